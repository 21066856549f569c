"""Using the console from tests: a real login through /login, forms posted with their CSRF token."""
from __future__ import annotations

from .web_support import PASSWORD, csrf_token, make_user  # noqa: F401 (shared with the console tests)


class Console:
    """A logged-in browser-less client: get() pages, post() forms with the session's CSRF token.

    Each request runs in an app context of its own, as in a server: the tests' fixture keeps one
    app context open, and requests pushed inside it would share its `g` (where Flask-WTF caches
    the CSRF token) from one request to the next. The test's own database session is therefore
    separate: call db.session.expire_all() (or rollback) to see what a request committed."""

    def __init__(self, client, email: str):
        self.client = client
        self.email = email
        self._token = None

    def _request(self, method: str, path: str, **kwargs):
        with self.client.application.app_context():
            return getattr(self.client, method)(path, **kwargs)

    def login(self) -> "Console":
        page = self._request("get", "/login")
        answer = self._request("post", "/login", data={"email": self.email, "password": PASSWORD, "csrf_token": csrf_token(page.text)})
        assert answer.status_code == 303, answer.status_code
        self._token = None
        return self

    def token(self) -> str:
        if self._token is None:
            self._token = csrf_token(self._request("get", "/admin/users/").text)
        return self._token

    def get(self, path: str, **kwargs):
        return self._request("get", path, **kwargs)

    def post(self, path: str, data=None, csrf: bool = True, **kwargs):
        data = dict(data or {})
        if csrf:
            data["csrf_token"] = self.token()
        return self._request("post", path, data=data, **kwargs)

