"""Helpers shared by the tests: sites, consent bodies, a live gunicorn server."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import requests

from cookiegate.extensions import db
from cookiegate.sites.site import create_site

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def make_site(origins, ga: Optional[str] = "G-TEST1234", fb: Optional[str] = "1234567890", name: str = "Test shop", **kwargs):
    site = create_site(name, origins, ga=ga, fb=fb, **kwargs)
    db.session.commit()
    return site


def impressions(site_id: Optional[int] = None, dim: str = "all") -> dict[str, int]:
    """Banner impressions as the statistics hold them, by `dim` ("all", "country", "device"): the day totals."""
    from sqlalchemy import func, select

    from cookiegate.models import StatsImpression

    query = select(StatsImpression.value, func.sum(StatsImpression.count)).where(StatsImpression.dim == dim, StatsImpression.grain == "d")
    if site_id is not None:
        query = query.where(StatsImpression.site_id == site_id)
    return {value: int(n) for value, n in db.session.execute(query.group_by(StatsImpression.value))}


def consent_body(**overrides) -> dict:
    """A valid body; an override of None leaves that field out (null itself is refused by the API)."""
    body = {
        "choices": {"statistics": True, "marketing": False},
        "method": "custom",
        "policy_version": 1,
        "url": "https://shop.example.dk/kurv?x=1",
        "language": "da",
        "gpc": False,
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not None}


def post_consent(client, site_key: str, body=None, origin: str = "https://shop.example.dk", headers=None, raw: Optional[bytes] = None):
    all_headers = {"Origin": origin, "Content-Type": "text/plain"}
    all_headers.update(headers or {})
    data = raw if raw is not None else json.dumps(consent_body() if body is None else body)
    return client.post(f"/api/v1/sites/{site_key}/consents", data=data, headers=all_headers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The real thing: gunicorn with gunicorn.conf.py, logs to files the tests can read."""

    def __init__(self, database_url: str, workdir: Path, secret_keys, workers: int = 2, **env: str):
        self.database_url = database_url
        self.workdir = Path(workdir)
        self.secret_keys = secret_keys
        self.workers = workers
        self.extra_env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = self.workdir / "access.log"
        self.error_log = self.workdir / "error.log"
        self.process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 120) -> None:  # generous: a shared, loaded machine boots workers slowly
        env = dict(os.environ)
        env.update(
            {
                "COOKIEGATE_ENV": "production",
                "COOKIEGATE_DATABASE_URL": self.database_url,
                "COOKIEGATE_SECRET_KEYS": ",".join(self.secret_keys),
                "COOKIEGATE_INSTANCE_PATH": str(self.workdir / "instance"),
                "COOKIEGATE_GEOIP_DB": str(self.workdir / "no-such.mmdb"),
                "COOKIEGATE_STATE_TTL": "1",
                "COOKIEGATE_RATELIMIT": "100000 per minute",
                # Two workers with the in-memory store: counted per process, on purpose (no Redis needed).
                "COOKIEGATE_RATELIMIT_PER_PROCESS": "yes",
                "COOKIEGATE_ACCESS_LOG": str(self.access_log),
                "COOKIEGATE_ERROR_LOG": str(self.error_log),
                "WEB_CONCURRENCY": str(self.workers),
            }
        )
        env.update(self.extra_env)
        self.process = subprocess.Popen(
            [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.logs()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()  # not left running behind a failed test
        raise RuntimeError(f"gunicorn did not come up: {self.logs()}")

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in (self.error_log, self.access_log) if p.exists())

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_until(predicate, timeout: float = 10, interval: float = 0.05, message: str = "condition not met", page=None):
    """predicate()'s first true value within timeout seconds, else AssertionError(message).

    With `page`, the pauses are Playwright's (page.wait_for_timeout): its sync API runs route
    handlers and page.on/context.on listeners only while the test is inside one of its calls, so a
    predicate on what they collect needs a page to wait in; time.sleep would starve them (and did:
    a route handler of test_resilience.py never ran on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if page is not None:
            page.wait_for_timeout(interval * 1000)
        else:
            time.sleep(interval)
    raise AssertionError(message)


def log_containing(path: Path, needle: str, timeout: float = 10) -> str:
    """The log file's text once `needle` is in it (gunicorn writes its logs a moment after answering)."""
    def text() -> str:
        return path.read_text(errors="replace") if path.exists() else ""

    return wait_until(lambda: needle in text() and text(), timeout, message=f"{needle!r} never reached {path.name}")


def chained(records, site_key: str) -> bool:
    """Records (seq 1 on, in order) carry valid payload hashes and one unbroken chain (proof/ledger.py)."""
    from cookiegate.proof.ledger import chain_hash, genesis, payload_hash, payload_values

    previous = genesis(site_key)
    for expected_seq, record in enumerate(records, start=1):
        link = chain_hash(previous, record.seq, record.payload_hash, record.kind, record.day)
        if record.seq != expected_seq or record.chain_hash != link:
            return False
        if record.consent_id is not None and record.payload_hash != payload_hash(payload_values(record)):
            return False
        previous = record.chain_hash
    return True


def database_text() -> str:
    """Every value of every row of every table, as text: what a privacy check greps."""
    from sqlalchemy import select

    parts = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)).all():
            parts.extend(json.dumps(value, default=str, ensure_ascii=False) for value in row)
    return "\n".join(parts)
