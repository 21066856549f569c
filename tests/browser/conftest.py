"""Browser fixtures: Debian's Chromium (one per session, a fresh context per test), the live service,
and a customer's website on another origin (http://www.shop.test:PORT, resolved to this machine)."""
from __future__ import annotations

import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select, text

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord, Site

from ..support import ROOT, free_port, impressions, make_site, wait_until  # noqa: F401 (wait_until: for the browser tests)

CHROMIUM = "/usr/bin/chromium"
SHOP_HOST = "www.shop.test"
AXE = ROOT / "build" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
# Stand-ins for the real tags: they note what they were given instead of talking to Google or Meta.
GTAG_STAND_IN = "window.__gtagLoads = (window.__gtagLoads || 0) + 1;"
FBEVENTS_STAND_IN = (
    "window.__fb = fbq.queue.map(a => Array.from(a));"
    "fbq.callMethod = function () { window.__fb.push(Array.from(arguments)); };"
)
THIRD_PARTY = re.compile(r"^https?://([a-z0-9-]+\.)*(googletagmanager\.com|google-analytics\.com|facebook\.net|facebook\.com)/")


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


class Website:
    """The customer's website: pages the tests write, each with its own headers and an optional delay."""

    def __init__(self):
        self.port = free_port()
        self.origin = f"http://{SHOP_HOST}:{self.port}"
        self.pages: dict[str, tuple[bytes, dict[str, str], float]] = {}
        website = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                if path not in website.pages:
                    self.send_error(404)
                    return
                body, headers, delay = website.pages[path]
                time.sleep(delay)
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, path: str, body: str, content_type: str = "text/html; charset=utf-8", delay: float = 0, **headers: str) -> str:
        all_headers = {"Content-Type": content_type}
        all_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
        self.pages[path] = (body.encode("utf-8"), all_headers, delay)
        return self.origin + path


@pytest.fixture(scope="session")
def website():
    site = Website()
    site.thread.start()
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                # The shop's name points here; every other name fails at once, so nothing leaves the machine.
                f"--host-resolver-rules=MAP {SHOP_HOST} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            ],
        )
        yield chromium
        chromium.close()


@dataclass
class Shop:
    """A site in the service whose website is the test website; pages embed the banner for it."""

    key: str
    service: str
    website: Website
    pages: int = 0

    def page(self, body: str = "", head: str = "", attrs: str = "async", lang: Optional[str] = "da", path: Optional[str] = None, **headers: str) -> str:
        self.pages += 1
        path = path or f"/p{self.pages}"
        lang_attr = f' lang="{lang}"' if lang else ""
        html = (
            f'<!doctype html><html{lang_attr}><head><meta charset="utf-8"><title>Fjordkaffe</title>'
            f'<script src="{self.service}/banner/v1/cookiegate.js" data-site="{self.key}" {attrs}></script>{head}</head>'
            f"<body><h1>Fjordkaffe</h1><p>Frisklistet kaffe fra Vejle.</p>{body}</body></html>"
        )
        return self.website.add(path, html, **headers)

    def _site_id(self) -> int:
        db.session.rollback()  # a fresh view of what the live server has committed
        return db.session.execute(select(Site.id).where(Site.key == self.key)).scalar_one()

    def records(self) -> list[ConsentRecord]:
        site_id = self._site_id()
        return list(db.session.execute(select(ConsentRecord).where(ConsentRecord.site_id == site_id).order_by(ConsentRecord.seq)).scalars())

    def impressions(self) -> int:
        site_id = self._site_id()
        return impressions(site_id).get("", 0)


@pytest.fixture
def shop(app, live_server, website):
    """A site with Google Analytics and the Meta pixel whose only origin is the test website."""
    site = make_site(origins=[website.origin], privacy_policy_url=website.origin + "/privatliv")
    return Shop(key=site.key, service=live_server.url, website=website)


@dataclass
class Visitor:
    """One person's browser profile: cookies and storage last across page views of the same visitor."""

    context: object
    service: str
    third_party: list[str] = field(default_factory=list)
    service_requests: list = field(default_factory=list)

    def __post_init__(self):
        self.page = self.context.new_page()
        self.context.on("request", self._note)

    def _note(self, request) -> None:
        if THIRD_PARTY.match(request.url):
            self.third_party.append(request.url)
        elif request.url.startswith(self.service):
            self.service_requests.append(request)

    def stand_ins(self) -> "Visitor":
        """Google's and Meta's scripts answered by local stand-ins (routing turns the HTTP cache off)."""

        def answer(route):
            url = route.request.url
            if "googletagmanager.com/gtag/js" in url:
                route.fulfill(status=200, content_type="application/javascript", body=GTAG_STAND_IN)
            elif "connect.facebook.net" in url:
                route.fulfill(status=200, content_type="application/javascript", body=FBEVENTS_STAND_IN)
            else:
                route.fulfill(status=204, body="")

        self.context.route(THIRD_PARTY, answer)
        return self

    def goto(self, url: str):
        self.page.goto(url)
        return self.page

    def banner(self):
        return self.page.locator("cookiegate-banner .b")

    def settings(self):
        return self.page.locator("cookiegate-banner dialog")

    def click(self, action: str, within: str = ".b"):
        self.page.locator(f"cookiegate-banner {within} [data-cookiegate-action={action}]").click()

    def consent_cookie(self) -> Optional[str]:
        return next((c["value"] for c in self.context.cookies() if c["name"] == "cookiegate"), None)

    def token_payload(self) -> Optional[dict]:
        token = self.consent_cookie()
        if token is None:
            return None
        head = token.split(".")[0]
        return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))

    def data_layer(self) -> list:
        # gtag() pushes Arguments objects; events are plain objects.
        return self.page.evaluate(
            "() => window.dataLayer.map(e => (e && typeof e === 'object' && 'length' in e && !Array.isArray(e)) ? Array.from(e) : e)"
        )

    def wait_for_cookie(self, other_than: Optional[str] = None, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            token = self.consent_cookie()
            if token and token != other_than:
                return token
            self.page.wait_for_timeout(50)
        raise AssertionError("the consent cookie was never set")

    def token_payload_when_set(self, other_than: Optional[str] = None) -> dict:
        self.wait_for_cookie(other_than)
        return self.token_payload()


def wait_for_idle_service(timeout: float = 10, quiet_polls: int = 4) -> None:
    """Until the live server has had no transaction open for a few polls in a row: emptying the
    database under a request still in flight (a keepalive impression, say) can deadlock on PostgreSQL."""
    if db.engine.dialect.name != "postgresql":
        return
    busy = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state <> 'idle'"
    )
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline and quiet < quiet_polls:
        quiet = 0 if db.session.execute(busy).scalar_one() else quiet + 1
        db.session.rollback()
        time.sleep(0.05)


@pytest.fixture
def visitor_factory(app, browser, live_server):
    """Visitors; afterwards their browsers are closed and the service has finished with them,
    before the database is emptied (`app` is torn down after this)."""
    contexts = []

    # A visitor is a person's browser: headless Chromium's own agent says "HeadlessChrome", which
    # the service rightly takes for a robot (not counted as an audience in the statistics).
    probe = browser.new_page()
    person = probe.evaluate("navigator.userAgent").replace("HeadlessChrome", "Chrome")
    probe.close()

    def make(gpc: bool = False, locale: str = "da-DK", stand_ins: bool = True, **options) -> Visitor:
        options.setdefault("user_agent", person)
        context = browser.new_context(locale=locale, **options)
        context.set_default_timeout(10_000)
        if gpc:
            context.add_init_script("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})")
        contexts.append(context)
        visitor = Visitor(context, live_server.url)
        return visitor.stand_ins() if stand_ins else visitor

    yield make
    for context in contexts:
        context.close()
    wait_for_idle_service()


@pytest.fixture
def visitor(visitor_factory) -> Visitor:
    return visitor_factory()
