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

    def cookie(name: str, category: str, by: str) -> dict:
        return {"name": name, "host": "shop.example.dk", "page": url, "how": "script", "set_by": "", "category": category,
                "classified_by": by, "provider": ""}

    def finding(name: str, category: str) -> dict:
        return {"kind": "cookie", "name": name, "host": "shop.example.dk", "category": category, "page": url}

    def one(name: str, cookies: list, findings: list, requests: list = ()) -> dict:
        return {"name": name, "verdict": "fail" if findings and name != "accepted" else "pass", "findings": findings,
                "pages": page_urls, "screenshots": [],
                "observed": {"cookies": cookies, "storage": [], "requests": list(requests), "tag_requests": [], "iframes": []}}

    ga = cookie("_ga", "statistics", "declaration")
    tag = {"host": "www.google-analytics.com", "url": "https://www.google-analytics.com/g/collect", "page": url, "count": 1,
           "types": ["ping"], "category": "statistics", "classified_by": "declaration", "provider": ""}
    passes = [
        one("no_choice", [ga, cookie(leak, "unclassified", "none")], [finding("_ga", "statistics"), finding(leak, "unclassified")]),
        one("rejected", [cookie("cookiegate", "necessary", "cookiegate")], []),
        one("accepted", [ga, cookie("cookiegate", "necessary", "cookiegate")],
            [finding("_ga", "statistics"), {"kind": "request", "name": tag["url"], "host": tag["host"], "category": "statistics", "page": url}], [tag]),
    ]
    return {
        "url": url, "verdict": "fail", "passes": passes,
        "declaration": {"source": "database", "undeclared": [{"kind": "cookie", "name": leak, "host": "shop.example.dk", "category": "unclassified"}], "unseen": []},
        "token_check": {"done": False, "passes": []}, "site": None, "service": None, "pages": page_urls, "skipped": [],
        "warnings": [], "user_agent": "Mozilla/5.0 cookiegate-audit/1.0", "started_at": "2026-11-30T04:00:00Z",
        "duration_seconds": 12.5, "tool": "cookiegate audit",
    }
