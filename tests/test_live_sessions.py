"""On a live gunicorn with two workers: a copied session cookie dies within one request of
logout (and of a password change, deactivation or a role change), whichever worker answers;
gunicorn believes no X-Forwarded-Proto unless a proxy is trusted; and several workers counting
rate limits apart in their own memory are refused in production."""
from __future__ import annotations

import os
import re
import subprocess
import uuid

import pytest
import requests
from sqlalchemy import select

from cookiegate.config import ConfigError, check_workers
from cookiegate.extensions import db
from cookiegate.models import User

from .conftest import TEST_KEYS
from .support import GUNICORN, ROOT, LiveServer, free_port
from .test_rate_limit import redis_or_skip
from .web_support import PASSWORD, make_user

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ADMIN = "root@example.dk"
MARKETER = "mia@example.dk"
# Enough fresh connections that both workers answer some of them (each request its own connection).
TRIES = 10


def csrf_of(session: requests.Session, url: str) -> str:
    return CSRF.search(session.get(url, timeout=10).text).group(1)


def browser_logged_in(server, email: str, password: str = PASSWORD) -> requests.Session:
    browser = requests.Session()
    token = csrf_of(browser, server.url + "/login")
    answer = browser.post(server.url + "/login", data={"email": email, "password": password, "csrf_token": token},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text[:300]
    return browser


def what_a_copy_opens(server, cookie: str, site_key: str) -> set[tuple[str, int]]:
    """Each page TRIES times over fresh connections, as the holder of a copied cookie."""
    seen = set()
    for _ in range(TRIES):
        for name, path in (("dashboard", "/dashboard/"), ("console", "/admin/"), ("stats", f"/api/v1/sites/{site_key}/stats")):
            answer = requests.get(server.url + path, cookies={"cookiegate_session": cookie}, allow_redirects=False,
                                  headers={"Connection": "close"}, timeout=10)
            seen.add((name, answer.status_code))
    return seen


REFUSED = {("dashboard", 302), ("console", 302), ("stats", 401)}


def test_on_two_workers_a_copied_cookie_dies_within_one_request_of_logout(live_server, live_site):
    make_user(ADMIN, "admin")
    owner = browser_logged_in(live_server, ADMIN)
    cookie = owner.cookies["cookiegate_session"]
    assert what_a_copy_opens(live_server, cookie, live_site.key) == {("dashboard", 200), ("console", 200), ("stats", 200)}
    logout = owner.post(live_server.url + "/logout", data={"csrf_token": csrf_of(owner, live_server.url + "/dashboard/")},
                        allow_redirects=False, timeout=10)
    assert logout.status_code == 303
    # The very first request after the logout answer, and every one after it, on either worker.
    first = requests.get(live_server.url + "/admin/", cookies={"cookiegate_session": cookie}, allow_redirects=False, timeout=10)
    assert first.status_code == 302 and "/login" in first.headers["Location"]
    assert what_a_copy_opens(live_server, cookie, live_site.key) == REFUSED


def test_on_two_workers_a_password_change_deactivation_or_role_change_ends_copied_cookies(live_server, live_site):
    make_user(ADMIN, "admin")
    make_user(MARKETER, "admin")
    admin = browser_logged_in(live_server, ADMIN)
    marketer_id = db.session.execute(select(User.id).where(User.email == MARKETER)).scalar_one()

    def change(data: dict) -> None:
        answer = admin.post(f"{live_server.url}/admin/users/{marketer_id}", allow_redirects=False, timeout=10,
                            data={**data, "csrf_token": csrf_of(admin, live_server.url + "/admin/users/")})
        assert answer.status_code == 303

    # A password change by the owner: copies die, the browser that changed it goes on.
    owner = browser_logged_in(live_server, MARKETER)
    copy = owner.cookies["cookiegate_session"]
    changed = owner.post(live_server.url + "/account/password", allow_redirects=False, timeout=30, data={
        "current_password": PASSWORD, "new_password": "changed on the live server", "confirm": "changed on the live server",
        "csrf_token": csrf_of(owner, live_server.url + "/account/password")})
    assert changed.status_code == 303
    assert what_a_copy_opens(live_server, copy, live_site.key) == REFUSED
    assert owner.get(live_server.url + "/admin/", allow_redirects=False, timeout=10).status_code == 200

    # A role change (admin to marketer) by another admin.
    copy = owner.cookies["cookiegate_session"]
    change({"role": "marketer", "active": "y", "sites": live_site.key})
    assert what_a_copy_opens(live_server, copy, live_site.key) == REFUSED

    # Deactivation.
    copy = browser_logged_in(live_server, MARKETER, "changed on the live server").cookies["cookiegate_session"]
    assert requests.get(live_server.url + "/dashboard/", cookies={"cookiegate_session": copy}, allow_redirects=False, timeout=10).status_code == 200
    change({"role": "marketer", "sites": live_site.key})
    assert what_a_copy_opens(live_server, copy, live_site.key) == REFUSED


def test_gunicorn_believes_no_forwarded_proto_when_no_proxy_is_trusted(live_server):
    """COOKIEGATE_TRUSTED_PROXIES=0 (the live server's setting): a client on this machine that
    claims https gets neither a Secure-only cookie nor HSTS."""
    answer = requests.get(live_server.url + "/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on"}, timeout=10)
    assert answer.status_code == 200
    assert "Strict-Transport-Security" not in answer.headers
    assert "Secure" not in answer.headers["Set-Cookie"]


def test_production_refuses_several_workers_that_count_rate_limits_apart():
    production = {"COOKIEGATE_ENV": "production", "COOKIEGATE_RATELIMIT_STORAGE": "memory://", "COOKIEGATE_RATELIMIT_PER_PROCESS": False}
    with pytest.raises(ConfigError, match="COOKIEGATE_RATELIMIT_STORAGE=redis://"):
        check_workers(production, 2)
    check_workers(production, 1)
    check_workers({**production, "COOKIEGATE_RATELIMIT_STORAGE": "redis://127.0.0.1:6379/0"}, 9)
    check_workers({**production, "COOKIEGATE_RATELIMIT_PER_PROCESS": True}, 9)
    check_workers({**production, "COOKIEGATE_ENV": "development"}, 9)


def test_gunicorn_exits_with_the_reason_instead_of_starting_two_workers_on_memory(tmp_path, migrated):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIEGATE_")}
    env.update(COOKIEGATE_ENV="production", COOKIEGATE_DATABASE_URL=migrated, COOKIEGATE_SECRET_KEYS=",".join(TEST_KEYS),
               COOKIEGATE_INSTANCE_PATH=str(tmp_path), WEB_CONCURRENCY="2")
    result = subprocess.run([str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{free_port()}", "wsgi:app"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "2 worker processes would each count rate limits apart" in result.stderr
    assert "COOKIEGATE_RATELIMIT_STORAGE=redis://" in result.stderr
    assert "Booting worker" not in result.stderr


def test_two_workers_sharing_redis_hold_a_login_limit_together(migrated, tmp_path, app):
    """The setup the refusal points to: both workers count in one store, so 5 a minute means 5."""
    store = os.environ.get("COOKIEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    connection = redis_or_skip(store)
    prefix = f"cookiegate-test-{uuid.uuid4().hex[:12]}"
    server = LiveServer(migrated, tmp_path, secret_keys=TEST_KEYS, COOKIEGATE_RATELIMIT_STORAGE=store,
                        COOKIEGATE_RATELIMIT_KEY_PREFIX=prefix, COOKIEGATE_RATELIMIT_PER_PROCESS="",
                        COOKIEGATE_LOGIN_RATELIMIT="5 per minute")
    server.start()
    try:
        statuses = []
        for _ in range(12):
            browser = requests.Session()
            token = csrf_of(browser, server.url + "/login")
            answer = browser.post(server.url + "/login", data={"email": "nobody@example.dk", "password": "wrong password!",
                                                                "csrf_token": token}, headers={"Connection": "close"}, timeout=30)
            statuses.append(answer.status_code)
        assert statuses.count(401) == 5 and statuses.count(429) == 7, statuses
    finally:
        server.stop()
        for key in connection.scan_iter(f"{prefix}:*"):
            connection.delete(key)
