"""Production server settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

Worker model: synchronous worker processes, one request at a time each.
SQLite has a single writer; threads competing for it halve throughput and push
p99 latency to seconds, while separate processes queue on SQLite's lock in
order. With PostgreSQL more processes help; set WEB_CONCURRENCY to change the
count (default: one per core on SQLite, 2 x cores + 1 on PostgreSQL). Put a
buffering reverse proxy (nginx, Caddy) in front so slow clients never hold a worker,
and set COOKIEGATE_TRUSTED_PROXIES to the number of proxies.
"""
import multiprocessing
import os
import re

from gunicorn.glogging import Logger

# Running under gunicorn means production unless said otherwise: real keys are required.
os.environ.setdefault("COOKIEGATE_ENV", "production")
# Web requests give up on a PostgreSQL statement after 5 s (503, Retry-After) rather than hold a worker.
os.environ.setdefault("COOKIEGATE_DB_STATEMENT_TIMEOUT", "5")

_cores = multiprocessing.cpu_count()
_on_sqlite = os.environ.get("COOKIEGATE_DATABASE_URL", "sqlite").startswith("sqlite")

bind = os.environ.get("COOKIEGATE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", _cores if _on_sqlite else 2 * _cores + 1))
# Forwarding headers count only as COOKIEGATE_TRUSTED_PROXIES says, and the app alone reads them
# (ProxyFix, counting that many hops from the right). gunicorn would otherwise believe
# X-Forwarded-Proto from 127.0.0.1 by default, even with no proxy trusted, and call the request
# https (Secure cookies, HSTS) for anyone on this machine who sends the header.
forwarded_allow_ips = ""
worker_class = "sync"
threads = 1
timeout = 30
graceful_timeout = 20
keepalive = 5
# No shared control socket ($HOME/.gunicorn/gunicorn.ctl): several servers on one machine must not collide.
control_socket_disable = True

# The access log never has the client address, the query string (tokens!),
# the User-Agent or the Referer: time, method, path, protocol, status, bytes, duration.
accesslog = os.environ.get("COOKIEGATE_ACCESS_LOG", "-")
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
errorlog = os.environ.get("COOKIEGATE_ERROR_LOG", "-")
loglevel = "info"
# The application's own log lines (stderr) go to the same file as gunicorn's when it is a file.
capture_output = True


class PrivateLogger(Logger):
    """gunicorn's error log without the client address, the request target or header values.

    Stock gunicorn logs "Invalid request from ip=<address>: <what it could not parse>"
    (the bad request line or header, verbatim) and "Error handling request <method> <uri>"
    (the query string, tokens included). These keep only what went wrong.
    """

    _INVALID = re.compile(r"^Invalid request from ip=")
    # The leading words of gunicorn's parser errors ("Invalid HTTP Header", "Request Line is too large").
    _REASON = re.compile(r"^[A-Za-z][A-Za-z ]{0,60}")

    def warning(self, msg, *args, **kwargs):
        if isinstance(msg, str) and self._INVALID.match(msg):
            detail = msg.split(": ", 1)[1] if ": " in msg else ""
            reason = self._REASON.match(detail)
            msg, args = "Invalid request rejected (%s)", ((reason.group(0).strip() if reason else "unparseable"),)
        super().warning(msg, *args, **kwargs)

    # Control characters (CR, LF, ESC, ...), backslash and the quote: a decoded path such as
    # /abc%0A... must not write a second, forged line into the access log.
    _UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f\\"]')

    # A visitor's consent id in a path (their receipt, their withdrawal) is logged as the route's
    # template: the id must be kept nowhere after erasure (docs/proof.md), access logs included.
    _CONSENT_PATH = re.compile(r"(/api/v1/sites/[^/?#\s]+/consents/)(?!<consent_id>)[^/?#\s]+")

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("U", "r", "{raw_uri}e"):
            value = atoms.get(key)
            if isinstance(value, str) and "/consents/" in value:
                atoms[key] = self._CONSENT_PATH.sub(r"\1<consent_id>", value)
        logged = self.__dict__.get("_logged")
        if logged is None:  # the atoms the access log format names; escaping only those keeps it cheap
            logged = self._logged = tuple(re.findall(r"%\(([^)]*)\)s", self.cfg.access_log_format))
        for key in logged:
            value = atoms.get(key.lower() if key.startswith("{") else key)
            if isinstance(value, str) and self._UNSAFE.search(value):
                atoms[key.lower() if key.startswith("{") else key] = self._UNSAFE.sub(lambda m: "\\x%02x" % ord(m.group(0)), value)
        return atoms

    def exception(self, msg, *args, **kwargs):
        if isinstance(msg, str) and msg.startswith("Error handling request"):
            msg, args = "Error handling request", ()
        super().exception(msg, *args, **kwargs)


logger_class = PrivateLogger


def on_starting(server):
    """Refuse, before any worker starts, what would count rate limits apart in each worker
    (production, several workers, the in-memory store): gunicorn prints the reason and exits 1."""
    from cookiegate.config import check_workers, from_environment

    check_workers(from_environment(""), server.cfg.workers)


def when_ready(server):
    """Minify and compress the banner once, in the master: every worker it forks inherits the result."""
    from cookiegate.banner import BANNER_DIR, AssetCache

    AssetCache(BANNER_DIR).warm()


def post_worker_init(worker):
    """Load the user-agent rules (about 0.15 s) while the worker boots, not inside a visitor's request."""
    from cookiegate.infra.useragent import parse_agent

    parse_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
