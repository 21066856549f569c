"""Driving Chromium through the passes and writing down what happened.

Each pass is a fresh browser context (a fresh profile: no cookies, no storage, no
cache) visiting the same pages one at a time. The recorder listens to the whole
context, so requests and cookies from iframes count as much as the page's own.
"""
from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import urllib.robotparser
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import parse_qs, urldefrag, urljoin, urlsplit

from ..useragent import AUDIT_AGENT

CHROMIUM = "/usr/bin/chromium"
AGENT_NAME = AUDIT_AGENT.rstrip("/")  # the name robots.txt rules address: "cookiegate-audit"
AGENT_VERSION = "1.0"
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
VIEWPORT = {"width": 1280, "height": 800}
BUTTON = "cookiegate-banner .b [data-cookiegate-action={action}]"
# The embed tag: the banner script with the site key (DESIGN.md, "The banner").
FIND_EMBED = """() => {
  const s = [...document.querySelectorAll('script[src][data-site]')].find(s => /\\/banner\\/v1\\/cookiegate(\\.min)?\\.js(\\?|$)/.test(s.src));
  return s ? {site: s.dataset.site, src: s.src} : null;
}"""
# Per frame: its storage keys and the iframes in it (by their src: a frame that failed to load
# has no URL of its own any more, but it still asked).
FRAME_FACTS = """() => {
  const keys = (area) => { try { return Object.keys(window[area]); } catch (e) { return []; } };
  const iframes = [...document.querySelectorAll('iframe')].map(f => f.src).filter(src => /^https?:/.test(src));
  return {local: keys('localStorage'), session: keys('sessionStorage'), iframes};
}"""
LINKS = "() => [...document.querySelectorAll('a[href]')].map(a => a.href)"
# Who wrote a cookie from script: document.cookie's setter, wrapped in every frame before any
# page script runs, reports the first script URL on the stack (an inline script shows as the
# page's own URL; eval'd code has none).
COOKIE_HOOK = """(() => {
  const d = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (!d || !d.set) return;
  Object.defineProperty(Document.prototype, 'cookie', {
    configurable: true, enumerable: d.enumerable,
    get() { return d.get.call(this); },
    set(value) {
      try {
        const urls = String(new Error().stack || '').split('\\n').slice(1)
          .map(line => (line.match(/(https?:\\/\\/[^\\s()]+?):\\d+:\\d+\\)?\\s*$/) || [])[1]).filter(Boolean);
        const note = window.__cookiegateAuditCookie;
        if (note) note(String(value).slice(0, 2048), urls[0] || '');
      } catch (e) {}
      d.set.call(this, value);
    },
  });
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


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def strip_query(url: str) -> str:
    """A URL as the report keeps it: no query string or fragment (they carry identifiers)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def tag_request(url: str, post_data: Optional[str] = None) -> Optional[dict[str, Any]]:
    """A Google or Meta tag request with its consent-mode parameters (gcs, gcd), else None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
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
                from email.utils import parsedate_to_datetime

                deleting = deleting or parsedate_to_datetime(value.strip()).timestamp() < time.time()
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
    return name, domain, deleting


@dataclass
class Observations:
    """Everything one pass saw, each item with the page it first appeared on."""

    cookies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    storage: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # other hosts, by host
    tags: list[dict[str, Any]] = field(default_factory=list)
    iframes: dict[str, dict[str, Any]] = field(default_factory=dict)
    screenshots: list[dict[str, Any]] = field(default_factory=list)

    def cookie(self, name: str, host: str, page: str, how: str, set_by: str = "") -> None:
        entry = self.cookies.setdefault((name, host), {"name": name, "host": host, "page": page, "how": how, "set_by": set_by})
        if set_by and not entry["set_by"]:
            entry["set_by"], entry["how"] = set_by, how


class Recorder:
    """Listens to one context; `page` names the audited page events are put down to."""

    def __init__(self, context, site_host: str):
        self.site_host = site_host
        self.page = ""
        self.seen = Observations()
        self.responses: list = []
        context.expose_binding("__cookiegateAuditCookie", self._script_cookie)
        context.add_init_script(COOKIE_HOOK)
        context.on("request", self._request)
        context.on("response", self._response)
        self.context = context

    def _request(self, request) -> None:
        url = request.url
        if not url.startswith(("http://", "https://")):
            return
        host = _host(url)
        tag = tag_request(url)
        if tag is not None:
            tag["page"] = self.page
            if len(self.seen.tags) < 500:
                self.seen.tags.append(tag)
        if host != self.site_host:
            entry = self.seen.requests.setdefault(host, {"host": host, "url": strip_query(url), "page": self.page, "count": 0, "types": []})
            entry["count"] += 1
            if request.resource_type not in entry["types"]:
                entry["types"].append(request.resource_type)

    def _response(self, response) -> None:
        self.responses.append(response)

    def _script_cookie(self, source, value: str, script_url: str) -> None:
        frame_url = source["frame"].url
        name, domain, deleting = parse_set_cookie(value)
        if not name or deleting:
            return
        if not script_url:
            set_by = "a script without a URL (eval or injected code)"
        elif urldefrag(script_url)[0] == urldefrag(frame_url)[0]:
            set_by = f"inline script in {strip_query(frame_url)}"
        else:
            set_by = strip_query(script_url)
        self.seen.cookie(name, domain or _host(frame_url), self.page, "script", set_by)

    def collect(self, page) -> None:
        """After a page has settled: Set-Cookie headers so far, the cookie jar, storage, iframes."""
        responses, self.responses[:] = list(self.responses), []
        for response in responses:
            try:
                headers = response.headers_array()
            except Exception:  # noqa: BLE001 - a response gone with its frame has no headers to give
                continue
            for header in headers:
                if header["name"].lower() != "set-cookie":
                    continue
                for line in header["value"].split("\n"):
                    name, domain, deleting = parse_set_cookie(line)
                    if name and not deleting:
                        self.seen.cookie(name, domain or _host(response.url), self.page, "http", f"HTTP response from {strip_query(response.url)}")
        for cookie in self.context.cookies():
            self.seen.cookie(cookie["name"], cookie["domain"].lstrip(".").lower(), self.page, "jar")
        for frame in page.frames:
            if not frame.url.startswith(("http://", "https://")):
                continue
            try:
                keys = frame.evaluate(FRAME_FACTS)
            except Exception:  # noqa: BLE001 - a frame that navigated away meanwhile
                continue
            for src in keys["iframes"][:100]:
                self.seen.iframes.setdefault(strip_query(src), {"url": strip_query(src), "host": _host(src), "page": self.page})
            for area, names in (("localStorage", keys["local"]), ("sessionStorage", keys["session"])):
                for name in names[:200]:
                    self.seen.storage.setdefault(
                        (area, _host(frame.url), name), {"area": area, "name": name, "host": _host(frame.url), "page": self.page}
                    )


def settle(page, dwell: float, timeout: float) -> None:
    """Until the network has been quiet a moment (bounded), then `dwell` seconds for timers."""
    try:
        page.wait_for_load_state("networkidle", timeout=timeout * 1000)
    except Exception:  # noqa: BLE001 - a page that never goes quiet is audited as it is
        pass
    page.wait_for_timeout(dwell * 1000)


def find_embed(page) -> Optional[dict[str, str]]:
    try:
        return page.evaluate(FIND_EMBED)
    except Exception:  # noqa: BLE001
        return None


def same_origin_links(page, origin: str) -> list[str]:
    try:
        hrefs = page.evaluate(LINKS)
    except Exception:  # noqa: BLE001
        return []
    found = []
    for href in hrefs:
        url = urldefrag(urljoin(page.url, href))[0]
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != origin or SKIP_LINKS.search(parts.path):
            continue
        if url not in found:
            found.append(url)
    return found


def read_robots(browser, origin: str, agent: str, timeout: float) -> urllib.robotparser.RobotFileParser:
    """robots.txt fetched through the browser (its proxy and name resolution), parsed by the standard library."""
    parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
    context = browser.new_context(user_agent=agent)
    try:
        page = context.new_page()
        response = page.goto(origin + "/robots.txt", timeout=timeout * 1000)
        status = response.status if response else 0
        if status in (401, 403):
            parser.disallow_all = True
        elif 200 <= status < 300:
            parser.parse(response.text().splitlines())
        else:
            parser.allow_all = True
    except Exception:  # noqa: BLE001 - no robots.txt to be had: nothing is disallowed
        parser.allow_all = True
    finally:
        context.close()
    return parser


def fetch_json(url: str, agent: str, timeout: float, body: Optional[dict] = None, origin: Optional[str] = None) -> Any:
    """GET (or POST body) JSON from the cookiegate service."""
    headers = {"User-Agent": agent, "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "text/plain"
    if origin:
        headers["Origin"] = origin
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) URLs built from the embed tag
        return json.loads(response.read().decode("utf-8"))
