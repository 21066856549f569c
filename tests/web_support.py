"""Helpers for the HTML areas: users, CSRF tokens read from forms, logging in with a real form."""
from __future__ import annotations

import re

from cookiegate.auth.users import create_api_token, create_user
from cookiegate.extensions import db

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')


def make_user(email: str, role: str = "marketer", sites=(), password: str = PASSWORD):
    user = create_user(email, password, role, sites)
    db.session.commit()
    return user


def make_token(user) -> str:
    token = create_api_token(user)
    db.session.commit()
    return token


def csrf_token(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF token in the form"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str = PASSWORD, **kwargs):
    page = client.get("/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(page.get_data(as_text=True))}, **kwargs)


def assert_strict_html_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
