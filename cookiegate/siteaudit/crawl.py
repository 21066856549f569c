"""Driving Chromium through a pass and writing down what happened (Playwright's async API).

Each pass is a fresh browser context (a fresh profile: no cookies, no storage, no cache) with its
own proxy (proxy.py). The recorder listens to the whole context, so requests and cookies from
iframes count as much as the page's own.

Cookies: what the browser's cookie jar holds is what was set. `Set-Cookie` headers and
`document.cookie` writes only say *who* set a cookie; one the browser refused (a third-party
cookie, which Chromium blocks in a fresh profile) is listed as refused, never as set.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
import urllib.error
import urllib.request
import urllib.robotparser
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Optional
from urllib.parse import parse_qsl, urldefrag, urljoin, urlsplit

from ..infra.useragent import AUDIT_AGENT
from .knowledge import trackers

CHROMIUM = "/usr/bin/chromium"
AGENT_NAME = AUDIT_AGENT.rstrip("/")  # the name robots.txt rules address: "cookiegate-audit"
AGENT_VERSION = "2.0"
LAUNCH_ARGS = (
    "--no-sandbox",  # the audit runs as a service user in containers too; it only visits, never logs in
    "--disable-gpu",
    "--disable-background-networking",  # Chromium's own requests would look like the site's
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
)
# Flags the audit cannot honour: it sends everything through its own proxy (proxy.py).
REFUSED_FLAGS = ("--proxy-server", "--proxy-pac-url", "--proxy-auto-detect", "--no-proxy-server")
VIEWPORT = {"width": 1280, "height": 800}
BUTTON = "cookiegate-banner .b [data-cookiegate-action={action}]"
CONSENT_PATH = re.compile(r"/api/v1/sites/[^/]+/consents$")
MAX_JSON_BYTES = 1_000_000
MAX_SAMPLES = 20  # URLs kept per request group
MAX_ITEMS = 500  # cookies, storage keys, request groups per pass
# The embed tag: the banner script with the site key (README, "Embedding the banner").
FIND_EMBED = """() => {
  const s = [...document.querySelectorAll('script[src][data-site]')].find(s => /\\/banner\\/v1\\/cookiegate(\\.min)?\\.js(\\?|$)/.test(s.src));
  return s ? {site: String(s.dataset.site).slice(0, 200), src: String(s.src).slice(0, 2048)} : null;
}"""
# Per frame: its storage keys and the iframes in it (by their src: a frame that failed to load
# has no URL of its own any more, but it still asked).
FRAME_FACTS = """() => {
  const keys = (area) => { try { return Object.keys(window[area]); } catch (e) { return []; } };
  const iframes = [...document.querySelectorAll('iframe')].map(f => f.src).filter(src => /^https?:/.test(src));
  return {local: keys('localStorage'), session: keys('sessionStorage'), iframes};
}"""
LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"
# Who wrote a cookie from script. document.cookie's setter (and cookieStore.set) is wrapped in
# every frame before any page script runs:
# - while a script runs at its top level, document.currentScript is that script; a script the
#   banner released after consent keeps its data-cookiegate attribute (release.js copies it);
# - in callbacks, the first frame of the caller's stack names the script (an inline script shows
#   as the page's URL; code without a URL, eval'd or added inline by another script, has none);
#   a URL that is the src of a released script is credited to the banner's release as well.
# After the write the hook reads document.cookie again: a name not there was refused.
COOKIE_HOOK = """(() => {
  const released = (el) => el && el.hasAttribute && el.hasAttribute('data-cookiegate') && (el.getAttribute('type') || '') !== 'text/plain';
  const why = (el) => 'data-cookiegate="' + el.getAttribute('data-cookiegate') + '"';
  const who = (skip) => {
    const el = document.currentScript;
    if (el) {
      if (released(el)) return ['released', el.src || '', why(el)];
      return el.src ? ['script', el.src, ''] : ['inline', '', ''];
    }
    const holder = {};
    Error.captureStackTrace(holder, skip);
    const first = String(holder.stack || '').split('\\n').slice(1).find(line => line.trim()) || '';
    const url = (first.match(/(https?:\\/\\/[^\\s()]+?):\\d+:\\d+\\)?\\s*$/) || [])[1] || '';
    if (!url) {
      const inline = [...document.querySelectorAll('script[data-cookiegate]:not([src])')].some(released);
      return ['nourl', '', inline ? 'released-inline-present' : ''];
    }
    const base = (u) => u.split('#')[0];
    if (base(url) === base(location.href)) return ['inline', '', ''];
    const el2 = [...document.querySelectorAll('script[data-cookiegate][src]')].find(s => s.src === url && released(s));
    return el2 ? ['released', url, why(el2)] : ['script', url, ''];
  };
  const note = (value, by, stored) => { try { const n = window.__cookiegateAuditCookie; if (n) n(String(value).slice(0, 2048), by, stored); } catch (e) {} };
  const d = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (d && d.set) {
    const set = function (value) {
      let by = null;
      try { by = who(set); } catch (e) {}
      d.set.call(this, value);
      try {
        const name = String(value).split(';')[0].split('=')[0].trim();
        const stored = ('; ' + d.get.call(this)).includes('; ' + name + '=');
        note(value, by, stored);
      } catch (e) {}
    };
    Object.defineProperty(Document.prototype, 'cookie', {configurable: true, enumerable: d.enumerable, get() { return d.get.call(this); }, set});
  }
  if (window.CookieStore && CookieStore.prototype.set) {
    const original = CookieStore.prototype.set;
    const storeSet = function (a, b) {
      let by = null;
      try { by = who(storeSet); } catch (e) {}
      const name = typeof a === 'string' ? a : (a && a.name) || '';
      const value = typeof a === 'string' ? b : (a && a.value) || '';
      note(name + '=' + value + ((a && a.domain) ? '; domain=' + a.domain : ''), by, null);
      return original.apply(this, arguments);
    };
    CookieStore.prototype.set = storeSet;
  }
})();"""
SKIP_LINKS = re.compile(r"\.(pdf|zip|gz|jpe?g|png|gif|webp|svg|mp[34]|mov|avi|docx?|xlsx?|pptx?|csv|xml|json|txt|ico)$", re.I)
GOOGLE_TAG_HOSTS = ("googletagmanager.com", "google-analytics.com", "analytics.google.com", "doubleclick.net", "googleadservices.com")
META_TAG_HOSTS = ("facebook.com", "facebook.net")


def user_agent(browser_version: str) -> str:
    """A normal desktop Chrome agent (sites serve their usual page) that says what it is."""
    major = browser_version.split(".")[0] or "0"
    return (
        f"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{major}.0.0.0 Safari/537.36 "
        f"{AUDIT_AGENT}{AGENT_VERSION} (pre-consent audit by cookiegate; not a visitor)"
    )


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def strip_query(url: str) -> str:
    """A URL as the report keeps it: no query string or fragment (they carry identifiers)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def cut_query(url: str) -> str:
    """A URL with its query's names but not their values: `…/g/collect?v=…&tid=…&cid=…`."""
    parts = urlsplit(url)
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)][:40]
    return strip_query(url) + ("?" + "&".join(f"{name[:40]}=…" for name in names) if names else "")


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def tag_request(url: str) -> Optional[dict[str, Any]]:
    """A Google or Meta tag request with its consent-mode parameters (gcs, gcd), else None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    query = {k: v[0] for k, v in _query(parts.query).items()}
    if any(_under(host, d) for d in GOOGLE_TAG_HOSTS) or (_under(host, "google.com") and parts.path.startswith(("/pagead", "/ccm"))):
        vendor = "google"
        ident, event = query.get("tid") or query.get("id", ""), query.get("en", "")
    elif any(_under(host, d) for d in META_TAG_HOSTS):
        vendor = "meta"
        ident, event = query.get("id", ""), query.get("ev", "")
    else:
        return None
    return {
        "vendor": vendor,
        "url": strip_query(url),
        "id": ident[:64],
        "event": event[:64],
        "gcs": query.get("gcs", "")[:16],
        "gcd": query.get("gcd", "")[:64],
    }


def _query(query: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        out.setdefault(name, []).append(value)
    return out


def parse_set_cookie(header: str) -> tuple[str, Optional[str], bool]:
    """(name, Domain attribute, deleting?) of one Set-Cookie header or document.cookie write."""
    parts = [p.strip() for p in header.split(";")]
    name = parts[0].split("=", 1)[0].strip()
    domain, deleting = None, False
    for attribute in parts[1:]:
        key, _, value = attribute.partition("=")
        key = key.strip().lower()
        if key == "domain" and value.strip():
            domain = value.strip().lstrip(".").lower()
        elif key == "max-age":
            deleting = deleting or value.strip().lstrip("-").isdigit() and int(value.strip()) <= 0
        elif key == "expires":
            try:
                deleting = deleting or parsedate_to_datetime(value.strip()).timestamp() < time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
    return name, domain, deleting


def set_by_text(by: Optional[list], frame_url: str) -> tuple[str, str]:
    """(how, set_by) from the cookie hook's answer, in words for the report."""
    if not by:
        return "script", "a script (not identified)"
    kind, url, detail = (list(by) + ["", "", ""])[:3]
    if kind == "released":
        return "script", f"released by the banner after consent: {strip_query(url) if url else 'inline script'} ({detail})"
    if kind == "script":
        return "script", strip_query(url)
    if kind == "inline":
        return "script", f"inline script in {strip_query(frame_url)}"
    if detail == "released-inline-present":
        return "script", "a script without a URL (eval or injected code; the banner released inline scripts on this page after consent)"
    return "script", "a script without a URL (eval or injected code)"


def lifetime_seconds(expires: float, now: float) -> Optional[int]:
    """Seconds a cookie is kept from now; None for a session cookie."""
    if expires is None or expires < 0:
        return None
    return max(0, int(round(expires - now)))


@dataclass
class Observations:
    """Everything one pass saw, each item with the page it first appeared on."""

    cookies: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # the jar, by (name, domain, path)
    writes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # who wrote (name, host), stored or not
    storage: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # groups by URL without query
    tags: list[dict[str, Any]] = field(default_factory=list)
    iframes: dict[str, dict[str, Any]] = field(default_factory=dict)
    screenshots: list[dict[str, Any]] = field(default_factory=list)
    blocked: list[dict[str, str]] = field(default_factory=list)

    def write(self, name: str, host: str, page: str, how: str, set_by: str, refused: bool = False) -> None:
        entry = self.writes.setdefault((name, host), {"name": name, "host": host, "page": page, "how": how, "set_by": set_by, "refused": refused})
        if refused is False:
            entry["refused"] = False  # stored at least once

    def setter(self, name: str, domain: str) -> Optional[dict[str, Any]]:
        """The write that explains a cookie in the jar: same name and domain, else a host under it."""
        found = self.writes.get((name, domain))
        if found is None:
            found = next((w for (n, h), w in self.writes.items() if n == name and _under(h, domain)), None)
        return found

    def refused(self) -> list[dict[str, Any]]:
        """Writes whose cookie never was in the jar."""
        held = {(name, domain) for name, domain, _ in self.cookies}
        out = []
        for (name, host), entry in self.writes.items():
            if any(n == name and (_under(host, d) or _under(d, host)) for n, d in held):
                continue
            out.append(entry)
        return out


@dataclass
class ConsentAnswer:
    status: int = 0
    code: str = ""
    failure: str = ""


class Recorder:
    """Listens to one context; `page` names the audited page events are put down to."""

    def __init__(self, context, site_host: str, site_domain: str):
        self.context = context
        self.site_host = site_host
        self.site_domain = site_domain
        self.page = ""
        self.seen = Observations()
        self.responses: list = []
        self.consent: Optional[asyncio.Future] = None
        self._tasks: set = set()

    async def install(self) -> None:
        await self.context.expose_binding("__cookiegateAuditCookie", self._script_cookie)
        await self.context.add_init_script(COOKIE_HOOK)
        self.context.on("request", self._request)
        self.context.on("response", self._response)
        self.context.on("requestfailed", self._failed)

    def expect_consent(self) -> asyncio.Future:
        self.consent = asyncio.get_running_loop().create_future()
        return self.consent

    def _request(self, request) -> None:
        url = request.url
        if not url.startswith(("http://", "https://")):
            return
        tag = tag_request(url)
        if tag is not None and len(self.seen.tags) < MAX_ITEMS:
            tag["page"] = self.page
            self.seen.tags.append(tag)
        host = host_of(url)
        known = trackers().request(url)
        # Other hosts are all listed; the site's own requests only when they look like a tracker's
        # (a first-party proxy or server-side tag endpoint).
        if host == self.site_host and known is None:
            return
        key = strip_query(url)
        group = self.seen.requests.get(key)
        if group is None:
            if len(self.seen.requests) >= MAX_ITEMS:
                return
            group = self.seen.requests[key] = {
                "url": key, "host": host, "page": self.page, "count": 0, "beacons": 0, "pixels": 0,
                "types": [], "methods": [], "samples": [],
            }
        group["count"] += 1
        kind = request.resource_type
        group["beacons"] += kind == "ping"
        group["pixels"] += kind == "image"
        for values, value in ((group["types"], kind), (group["methods"], request.method)):
            if value not in values:
                values.append(value)
        sample = cut_query(url)
        if len(group["samples"]) < MAX_SAMPLES and sample not in group["samples"]:
            group["samples"].append(sample)

    def _is_consent(self, request) -> bool:
        return request.method == "POST" and CONSENT_PATH.search(urlsplit(request.url).path) is not None

    def _response(self, response) -> None:
        self.responses.append(response)
        if self.consent is not None and not self.consent.done() and self._is_consent(response.request):
            task = asyncio.ensure_future(self._consent_answer(response, self.consent))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _consent_answer(response, future: asyncio.Future) -> None:
        code = ""
        try:
            body = await response.json()
            code = str(((body or {}).get("error") or {}).get("code", ""))[:64] if isinstance(body, dict) else ""
        except Exception:  # noqa: BLE001 - an answer that is not JSON has no code
            pass
        if not future.done():
            future.set_result(ConsentAnswer(response.status, code))

    def _failed(self, request) -> None:
        if self.consent is not None and not self.consent.done() and self._is_consent(request):
            self.consent.set_result(ConsentAnswer(failure=(request.failure or "failed")[:200]))

    def _script_cookie(self, source, value: str, by, stored) -> None:
        frame_url = source["frame"].url
        name, domain, deleting = parse_set_cookie(value)
        if not name or deleting:
            return
        how, set_by = set_by_text(by, frame_url)
        self.seen.write(name, domain or host_of(frame_url), self.page, how, set_by, refused=stored is False)

    async def collect(self, page) -> None:
        """After a page has settled: Set-Cookie headers so far, the cookie jar, storage, iframes."""
        responses, self.responses = self.responses, []
        for response in responses:
            try:
                headers = await response.headers_array()
            except Exception:  # noqa: BLE001 - a response gone with its frame has no headers to give
                continue
            for header in headers:
                if header["name"].lower() != "set-cookie":
                    continue
                for line in header["value"].split("\n"):
                    name, domain, deleting = parse_set_cookie(line)
                    if name and not deleting:
                        self.seen.write(name, domain or host_of(response.url), self.page, "http", f"HTTP response from {strip_query(response.url)}")
        now = time.time()
        for cookie in await self.context.cookies():
            key = (cookie["name"], cookie["domain"].lstrip(".").lower(), cookie["path"])
            if key in self.seen.cookies or len(self.seen.cookies) >= MAX_ITEMS:
                continue
            expires = cookie.get("expires", -1)
            self.seen.cookies[key] = {
                "name": cookie["name"],
                "host": key[1],
                "domain": cookie["domain"],
                "path": cookie["path"],
                "page": self.page,
                "expires": None if expires is None or expires < 0 else dt.datetime.fromtimestamp(expires, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "lifetime_seconds": lifetime_seconds(expires, now),
                "secure": bool(cookie.get("secure")),
                "http_only": bool(cookie.get("httpOnly")),
                "same_site": cookie.get("sameSite") or "",
            }
        for frame in page.frames:
            if not frame.url.startswith(("http://", "https://")):
                continue
            try:
                facts = await frame.evaluate(FRAME_FACTS)
            except Exception:  # noqa: BLE001 - a frame that navigated away meanwhile
                continue
            for src in facts["iframes"][:100]:
                self.seen.iframes.setdefault(strip_query(src), {"url": strip_query(src), "host": host_of(src), "page": self.page})
            for area, names in (("localStorage", facts["local"]), ("sessionStorage", facts["session"])):
                for name in names[:200]:
                    if len(self.seen.storage) < MAX_ITEMS:
                        self.seen.storage.setdefault(
                            (area, host_of(frame.url), name), {"area": area, "name": name, "host": host_of(frame.url), "page": self.page}
                        )

    def finish(self) -> None:
        """Attribute each cookie in the jar to the write that set it."""
        for entry in self.seen.cookies.values():
            write = self.seen.setter(entry["name"], entry["host"])
            entry["how"], entry["set_by"] = (write["how"], write["set_by"]) if write else ("jar", "")


async def settle(page, dwell: float, timeout: float) -> None:
    """Until the network has been quiet a moment (bounded), then `dwell` seconds for timers."""
    try:
        await page.wait_for_load_state("networkidle", timeout=timeout * 1000)
    except Exception:  # noqa: BLE001 - a page that never goes quiet is audited as it is
        pass
    await page.wait_for_timeout(dwell * 1000)


async def find_embed(page) -> Optional[dict[str, str]]:
    try:
        return await page.evaluate(FIND_EMBED)
    except Exception:  # noqa: BLE001
        return None


async def same_origin_links(page, origin: str) -> list[str]:
    try:
        hrefs = await page.evaluate(LINKS)
    except Exception:  # noqa: BLE001
        return []
    found = []
    for href in hrefs:
        url = urldefrag(urljoin(page.url, href))[0]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or origin_of(url) != origin or SKIP_LINKS.search(parts.path):
            continue
        if url not in found:
            found.append(url)
    return found


async def read_robots(context, origin_url: str, timeout: float) -> urllib.robotparser.RobotFileParser:
    """robots.txt fetched through the browser (its proxy and name resolution), parsed by the standard library."""
    parser = urllib.robotparser.RobotFileParser(origin_url + "/robots.txt")
    page = await context.new_page()
    try:
        response = await page.goto(origin_url + "/robots.txt", timeout=timeout * 1000)
        status = response.status if response else 0
        if status in (401, 403):
            parser.disallow_all = True
        elif 200 <= status < 300:
            parser.parse((await response.text()).splitlines())
        else:
            parser.allow_all = True
    except Exception:  # noqa: BLE001 - no robots.txt to be had: nothing is disallowed
        parser.allow_all = True
    finally:
        await page.close()
    return parser


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {strip_query(newurl)} not followed", headers, fp)


class _ThroughProxy(urllib.request.ProxyHandler):
    """Every request through the audit's proxy; the standard handler skips it for names in no_proxy."""

    def proxy_open(self, req, proxy, type):
        req.set_proxy(urlsplit(proxy).netloc, "http")
        return None


def fetch_json(url: str, agent: str, timeout: float, proxy: str, body: Optional[dict] = None, origin: Optional[str] = None) -> Any:
    """GET (or POST body) JSON from the cookiegate service named by the page, through the audit's
    proxy (so the address rules apply), without following redirects, at most 1 MB."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) address: {strip_query(url)}")
    headers = {"User-Agent": agent, "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "text/plain"
    if origin:
        headers["Origin"] = origin
    opener = urllib.request.build_opener(_ThroughProxy({"http": proxy, "https": proxy}), _NoRedirects())
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    with opener.open(request, timeout=timeout) as response:
        raw = response.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise ValueError("the answer is larger than 1 MB")
    return json.loads(raw.decode("utf-8"))
