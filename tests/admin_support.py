"""Using the console from tests: a real login through /login, forms posted with their CSRF token."""
from __future__ import annotations

from .web_support import PASSWORD, csrf_token, make_user  # noqa: F401 (shared with the console tests)


class Console:
    """A logged-in browser-less client: get() pages, post() forms with the session's CSRF token.

    Each request runs in an app context of its own, as in a server: the tests' fixture keeps one
    app context open, and requests pushed inside it would share its `g` (where Flask-WTF caches
    the CSRF token) from one request to the next. The test's own database session is therefore
    separate: call db.session.expire_all() (or rollback) to see what a request committed."""

    def __init__(self, client, email: str, password: str = PASSWORD):
        self.client = client
        self.email = email
        self.password = password
        self._token = None

    def _request(self, method: str, path: str, **kwargs):
        with self.client.application.app_context():
            return getattr(self.client, method)(path, **kwargs)

    def login(self) -> "Console":
        page = self._request("get", "/login")
        answer = self._request("post", "/login", data={"email": self.email, "password": self.password, "csrf_token": csrf_token(page.text)})
        assert answer.status_code == 303, answer.status_code
        self._token = None
        return self

    def token(self) -> str:
        if self._token is None:
            # A page every logged-in user may open (admins and marketers alike).
            self._token = csrf_token(self._request("get", "/account/password").text)
        return self._token

    def session_cookie(self) -> str:
        """The session cookie's value, as someone who copied it would hold it."""
        return self.client.get_cookie("cookiegate_session").value

    def get(self, path: str, **kwargs):
        return self._request("get", path, **kwargs)

    def post(self, path: str, data=None, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token()
        return self._request("post", path, data=data, **kwargs)



def audit_report(url: str = "https://shop.example.dk/", *, leak: str = "_hjSessionUser_1", pages: int = 2) -> dict:
    """A pre-consent audit report as `cookiegate audit` writes it (report.schema.json), without
    running a browser: the Google Analytics cookie `_ga` (declared) and `leak` (not declared) set
    before any choice, nothing after "Reject all", `_ga` and a tag request after "Accept all"."""
    page_urls = [url] + [f"{url}side-{n}" for n in range(1, pages)]
    ga_purpose = {"en": "Measures visits for Google Analytics.", "da": "Måler besøg til Google Analytics."}
    fix = {"en": 'Hold back the script with data-cookiegate="statistics".', "da": 'Hold scriptet tilbage med data-cookiegate="statistics".'}

    def cookie(name: str, category: str, by: str, purpose=None) -> dict:
        return {"name": name, "host": "shop.example.dk", "domain": "shop.example.dk", "path": "/", "page": url, "how": "script",
                "set_by": "", "expires": None, "lifetime_seconds": None, "secure": True, "http_only": False, "same_site": "Lax",
                "party": "first", "category": category, "classified_by": by, "provider": "", "purpose": purpose,
                "tracker": "", "matched": "", "note": ""}

    def finding(name: str, category: str, by: str, purpose=None) -> dict:
        return {"kind": "cookie", "name": name, "host": "shop.example.dk", "category": category, "page": url, "purpose": purpose,
                "provider": "", "classified_by": by, "tracker": "", "note": "", "party": "first", "how_to_fix": fix}

    def one(name: str, cookies: list, findings: list, requests: list = ()) -> dict:
        entry = {"name": name, "verdict": "fail" if findings and name != "accepted" else "pass", "findings": findings,
                 "pages": page_urls, "screenshots": [], "blocked": [], "started_at": "2026-11-30T04:00:00Z",
                 "finished_at": "2026-11-30T04:00:08Z", "timing": {"start": 0.9, "end": 8.0},
                 "observed": {"cookies": cookies, "refused_cookies": [], "storage": [], "requests": list(requests), "tag_requests": [], "iframes": []}}
        if name != "no_choice":
            entry["choice"] = {"action": "reject_all" if name == "rejected" else "accept_all", "recorded": True, "status": 201,
                               "code": "", "cookie": True, "reason": ""}
        return entry

    unknown = {"en": "Not known: nobody has said it is necessary.", "da": "Ukendt: ingen har sagt, at den er nødvendig."}
    ga = cookie("_ga", "statistics", "declaration", ga_purpose)
    tag = {"host": "www.google-analytics.com", "url": "https://www.google-analytics.com/g/collect", "page": url, "count": 1,
           "beacons": 1, "pixels": 0, "types": ["ping"], "methods": ["POST"], "samples": ["https://www.google-analytics.com/g/collect?v=…&tid=…"],
           "party": "third", "category": "statistics", "classified_by": "knowledge-base", "provider": "Google: Google Analytics",
           "purpose": ga_purpose, "tracker": "google-analytics", "matched": "URL pattern /g/collect?v&tid", "note": ""}
    before = [finding("_ga", "statistics", "declaration", ga_purpose), finding(leak, "unclassified", "none", unknown)]
    passes = [
        one("no_choice", [ga, cookie(leak, "unclassified", "none", unknown)], before),
        one("rejected", [cookie("cookiegate", "necessary", "cookiegate")], []),
        one("accepted", [ga, cookie("cookiegate", "necessary", "cookiegate")],
            [finding("_ga", "statistics", "declaration", ga_purpose),
             {"kind": "request", "name": tag["url"], "host": tag["host"], "category": "statistics", "page": url, "purpose": ga_purpose,
              "provider": tag["provider"], "classified_by": "knowledge-base", "tracker": "google-analytics", "note": "", "party": "third",
              "how_to_fix": fix, "count": 1, "beacons": 1, "pixels": 0, "matched": tag["matched"]}], [tag]),
    ]
    distinct = [{**{k: v for k, v in f.items() if k != "page"}, "passes": ["no_choice"], "pages": [url],
                 "evidence": {"party": "first", "set_by": "", "lifetime_seconds": None}} for f in before]
    return {
        "url": url, "verdict": "fail", "summary": {"distinct_findings": 2, "by_pass": {"no_choice": 2, "rejected": 0, "rejected_token": 0}},
        "findings": distinct, "passes": passes,
        "declaration": {"source": "database", "undeclared": [{"kind": "cookie", "name": leak, "host": "shop.example.dk", "category": "unclassified"}], "unseen": []},
        "token_check": {"done": False, "passes": []}, "site": None, "service": None, "pages": page_urls, "skipped": [],
        "warnings": [], "user_agent": "Mozilla/5.0 cookiegate-audit/2.0", "started_at": "2026-11-30T04:00:00Z",
        "finished_at": "2026-11-30T04:00:12Z", "duration_seconds": 12.5, "tool": "cookiegate audit",
        "environment": {"tool": "cookiegate audit", "tool_version": "2.0", "browser": "Chromium 156.0.8078.108", "playwright": "1.65.2",
                        "os": "Linux-6.1-x86_64", "python": "3.11.7", "command_line": ["flask", "--app", "wsgi", "cookiegate", "audit", url],
                        "address_policy": {"audited": "public", "allowed": ["public"]},
                        "knowledge_base": {"trackers_reviewed": "2026-11-30", "necessary_reviewed": "2026-11-30"}},
    }


def old_audit_report(url: str = "https://shop.example.dk/") -> dict:
    """A report as the audit wrote it before issue 22 (kept in site histories): no summary,
    distinct findings, purposes or environment."""
    finding = {"kind": "cookie", "name": "_hjid", "host": "shop.example.dk", "category": "necessary", "page": url}
    observed = {"cookies": [{"name": "_hjid", "host": "shop.example.dk", "page": url, "how": "jar", "set_by": "", "category": "necessary",
                             "classified_by": "open-cookie-database", "provider": "Hotjar"}],
                "storage": [], "requests": [{"host": "static.hotjar.com", "url": "https://static.hotjar.com/c/hotjar-1.js", "page": url,
                                             "count": 2, "types": ["script"], "category": "statistics", "classified_by": "known tag host", "provider": ""}],
                "tag_requests": [], "iframes": []}
    passes = [{"name": name, "verdict": "pass", "findings": [finding] if name == "accepted" else [], "pages": [url], "observed": observed,
               "screenshots": [{"page": url, "file": f"{name}-1.jpg"}]} for name in ("no_choice", "rejected", "accepted")]
    return {"url": url, "verdict": "pass", "passes": passes, "declaration": {"source": "config", "undeclared": [], "unseen": []},
            "token_check": {"done": False, "passes": [], "error": "the site key is not known"}, "site": None, "service": None,
            "pages": [url], "skipped": [], "warnings": [], "user_agent": "Mozilla/5.0 cookiegate-audit/1.0",
            "started_at": "2026-10-01T10:00:00Z", "duration_seconds": 31.2, "tool": "cookiegate audit"}
