"""Login, logout, sessions, CSRF, login rate limits, roles and API tokens."""
from __future__ import annotations

from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.models import ApiToken

from .support import make_site, wait_until
from .web_support import PASSWORD, assert_strict_html_headers, csrf_token, login, make_token, make_user


def session_cookie_header(response) -> str:
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("cookiegate_session="))


def test_login_page_is_a_form_with_the_stable_hooks_and_strict_headers(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html and 'type="submit"' in html
    assert 'name="csrf_token"' in html
    assert_strict_html_headers(response)
    assert "no-store" in response.headers["Cache-Control"]
    assert "<style" not in html and " style=" not in html and "<script" not in html  # nothing inline


def test_login_leads_to_the_dashboard_with_a_strict_session_cookie(client, site):
    make_user("mia@example.dk", sites=[site])
    response = login(client, "mia@example.dk")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/dashboard/")
    cookie = session_cookie_header(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # the session ends (server-side too: the signature carries its age)
    assert "Secure" not in cookie  # plain http on a laptop
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert site.key in page.get_data(as_text=True)
    assert_strict_html_headers(page)


def test_session_cookie_is_secure_behind_https(make_app, app, site):
    make_user("mia@example.dk", sites=[site])
    proxied = make_app(COOKIEGATE_TRUSTED_PROXIES=1)
    client = proxied.test_client()
    page = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    response = client.post(
        "/login",
        data={"email": "mia@example.dk", "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))},
        headers={"X-Forwarded-Proto": "https", "Referer": "https://localhost/login"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert "Secure" in session_cookie_header(response)
    assert "Strict-Transport-Security" in response.headers


def test_wrong_password_gets_a_plain_page_and_no_session(client, site):
    make_user("mia@example.dk", sites=[site])
    for email, password in (("mia@example.dk", "wrong password!"), ("nobody@example.dk", PASSWORD)):
        response = login(client, email, password)
        assert response.status_code == 401
        html = response.get_data(as_text=True)
        assert "data-error=\"login\"" in html and "<form" in html
        assert password not in html
        assert_strict_html_headers(response)
        assert client.get("/dashboard/").status_code == 302


def test_dashboard_needs_a_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_login_without_csrf_token_is_refused_with_an_html_page(client, site):
    make_user("mia@example.dk", sites=[site])
    response = client.post("/login", data={"email": "mia@example.dk", "password": PASSWORD})
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert_strict_html_headers(response)
    assert client.get("/dashboard/").status_code == 302


def test_logout_is_a_csrf_protected_post(client, site):
    make_user("mia@example.dk", sites=[site])
    login(client, "mia@example.dk")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'data-action="logout"' in page
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token: still logged in
    assert client.get("/dashboard/").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert client.get("/dashboard/").status_code == 302


def test_session_expires(make_app, app, site):
    import datetime as dt

    make_user("mia@example.dk", sites=[site])
    short = make_app(PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=1))
    client = short.test_client()
    assert login(client, "mia@example.dk").status_code == 303
    assert client.get("/dashboard/").status_code == 200
    # Requests meanwhile do not stretch it: it ends a second after the login (in whole seconds).
    wait_until(lambda: client.get("/dashboard/").status_code == 302, timeout=5, interval=0.1, message="the session did not end")


def test_open_redirects_after_login_are_refused(client, site):
    make_user("mia@example.dk", sites=[site])
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        page = client.get("/login")
        response = client.post(
            "/login?next=" + target,
            data={"email": "mia@example.dk", "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))},
        )
        assert response.status_code == 303
        assert response.headers["Location"] == "/dashboard/"
        client.post("/logout", data={"csrf_token": csrf_token(client.get("/dashboard/").get_data(as_text=True))})


def test_login_is_rate_limited_per_address(make_app, app, site):
    make_user("mia@example.dk", sites=[site])
    limited = make_app(COOKIEGATE_LOGIN_RATELIMIT="3 per minute")
    client = limited.test_client()
    for _ in range(3):
        assert login(client, "mia@example.dk", "wrong password!").status_code == 401
    response = login(client, "mia@example.dk")  # even the right password waits
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.mimetype == "text/html"
    assert_strict_html_headers(response)


def test_successful_logins_do_not_lock_an_account(make_app, app, site):
    make_user("mia@example.dk", sites=[site])
    limited = make_app(COOKIEGATE_LOGIN_PAIR_RATELIMIT="2 per 15 minutes", COOKIEGATE_LOGIN_FREE_FAILURES=1,
                       COOKIEGATE_LOGIN_RATELIMIT="100 per minute")
    for _ in range(4):
        client = limited.test_client()
        assert login(client, "mia@example.dk").status_code == 303


def test_marketer_cannot_open_another_sites_dashboard_nor_admin(client, site):
    other = make_site(["https://other.example.dk"], name="Konkurrenten ApS")
    make_user("mia@example.dk", sites=[site])
    login(client, "mia@example.dk")
    assert client.get(f"/dashboard/{site.key}/").status_code == 200
    response = client.get(f"/dashboard/{other.key}/")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert_strict_html_headers(response)
    assert other.name not in response.get_data(as_text=True)  # nor does the refusal say what is there
    assert client.get("/admin/").status_code in (403, 404)
    listing = client.get("/dashboard/").get_data(as_text=True)
    assert site.name in listing and other.key not in listing and other.name not in listing


def test_admin_sees_every_site(client, site):
    other = make_site(["https://other.example.dk"])
    make_user("root@example.dk", role="admin")
    login(client, "root@example.dk")
    listing = client.get("/dashboard/").get_data(as_text=True)
    assert site.key in listing and other.key in listing
    assert client.get(f"/dashboard/{other.key}/").status_code == 200


def test_unknown_pages_in_html_areas_are_html_and_in_the_api_json(client):
    page = client.get("/dashboard/no-such-site/")
    assert page.status_code in (302, 404)
    missing = client.get("/dashboard/a/b/c")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert_strict_html_headers(missing)
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_hostile_site_names_are_escaped(client):
    site = make_site(["https://evil.example.dk"])
    site.name = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    db.session.commit()
    make_user("root@example.dk", role="admin")
    login(client, "root@example.dk")
    for path in ("/dashboard/", f"/dashboard/{site.key}/"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_pages_follow_the_chosen_language(client, site):
    user = make_user("mia@example.dk", sites=[site])
    assert "Log ind" in client.get("/login").get_data(as_text=True)  # Danish first
    assert "Log in" in client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "Log ind" in client.get("/login?lang=da", headers={"Accept-Language": "en"}).get_data(as_text=True)
    login(client, "mia@example.dk")
    assert "Log out" in client.get("/dashboard/?lang=en").get_data(as_text=True)
    # The choice is kept as the user's setting.
    db.session.refresh(user)
    assert user.language == "en"
    assert "Log out" in client.get("/dashboard/").get_data(as_text=True)


def test_api_tokens_can_be_revoked_from_the_command_line(runner, site):
    user = make_user("mia@example.dk", sites=[site])
    token = make_token(user)
    second = make_token(user)
    result = runner.invoke(args=["cookiegate", "revoke-token", token[:10]])
    assert result.exit_code == 0, result.output
    rows = {row.prefix: row.revoked for row in db.session.execute(select(ApiToken)).scalars()}
    assert rows[token[:10]] is True and rows[second[:10]] is False
    result = runner.invoke(args=["cookiegate", "revoke-token", "--user", "mia@example.dk"])
    assert result.exit_code == 0 and "1 token" in result.output
    assert runner.invoke(args=["cookiegate", "revoke-token", "cg_nosuchtoken_at_all"]).exit_code != 0
