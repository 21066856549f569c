"""Sessions end when they should, tested as the attacker: a session cookie copied before the
owner logs out (changes their password, is deactivated or gets another role) opens nothing
afterwards; a busy session still ends COOKIEGATE_SESSION_HOURS after logging in; and
reactivating an account brings back neither its old sessions nor its API tokens."""
from __future__ import annotations

import datetime as dt
import time
from email.utils import parsedate_to_datetime

from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.models import ApiToken, LoginSession, User

from .admin_support import Console
from .support import wait_until
from .web_support import make_token, make_user

ADMIN = "root@example.dk"
MARKETER = "mia@example.dk"


def holder_of(app, cookie: str):
    """Someone else's browser holding a copy of the cookie."""
    client = app.test_client()
    client.set_cookie("cookiegate_session", cookie)
    return Console(client, "copy")


def opens(copy: Console, site_key: str) -> dict[str, int]:
    """What the copied cookie opens: the dashboard, the console and the stats API."""
    return {
        "dashboard": copy.get("/dashboard/").status_code,
        "console": copy.get("/admin/").status_code,
        "stats": copy.get(f"/api/v1/sites/{site_key}/stats").status_code,
    }


NOTHING = {"dashboard": 302, "console": 302, "stats": 401}


def test_a_cookie_copied_before_logout_opens_nothing_afterwards(app, site):
    make_user(ADMIN, "admin")
    owner = Console(app.test_client(), ADMIN).login()
    copy = holder_of(app, owner.session_cookie())
    assert opens(copy, site.key) == {"dashboard": 200, "console": 200, "stats": 200}  # the copy works while the login lasts
    assert owner.post("/logout").status_code == 303
    assert opens(copy, site.key) == NOTHING
    login_page = copy.get("/dashboard/")
    assert "/login" in login_page.headers["Location"]
    db.session.expire_all()
    assert db.session.execute(select(LoginSession)).first() is None  # the row went, not just the cookie


def test_logging_out_on_one_browser_leaves_the_users_other_browsers_logged_in(app, site):
    make_user(MARKETER, sites=[site])
    laptop = Console(app.test_client(), MARKETER).login()
    phone = Console(app.test_client(), MARKETER).login()
    assert laptop.post("/logout").status_code == 303
    assert laptop.get("/dashboard/").status_code == 302
    assert phone.get("/dashboard/").status_code == 200


def test_a_password_change_ends_every_copy_but_keeps_the_browser_that_made_it(app, site):
    make_user(MARKETER, sites=[site])
    owner = Console(app.test_client(), MARKETER).login()
    other_browser = Console(app.test_client(), MARKETER).login()
    copy = holder_of(app, owner.session_cookie())
    assert copy.get("/dashboard/").status_code == 200
    changed = owner.post("/account/password", {"current_password": owner.password, "new_password": "a new passphrase 42",
                                               "confirm": "a new passphrase 42"})
    assert changed.status_code == 303
    assert opens(copy, site.key) == {"dashboard": 302, "console": 302, "stats": 401}
    assert other_browser.get("/dashboard/").status_code == 302
    assert owner.get("/dashboard/").status_code == 200  # a fresh session for the browser that changed it


def test_an_admin_setting_a_password_ends_the_users_sessions(app, site):
    make_user(ADMIN, "admin")
    make_user(MARKETER, sites=[site])
    admin = Console(app.test_client(), ADMIN).login()
    marketer = Console(app.test_client(), MARKETER).login()
    copy = holder_of(app, marketer.session_cookie())
    person = db.session.execute(select(User).where(User.email == MARKETER)).scalar_one()
    answer = admin.post(f"/admin/users/{person.id}/password", {"new_password": "set by the admin 7", "confirm": "set by the admin 7"})
    assert answer.status_code == 303
    assert marketer.get("/dashboard/").status_code == 302
    assert opens(copy, site.key) == NOTHING
    assert admin.get("/admin/").status_code == 200


def test_deactivation_and_a_role_change_end_every_session_of_the_user(app, site):
    make_user(ADMIN, "admin")
    make_user("second@example.dk", "admin")
    make_user(MARKETER, sites=[site])
    admin = Console(app.test_client(), ADMIN).login()
    people = {u.email: u.id for u in db.session.execute(select(User)).scalars()}

    copy = holder_of(app, Console(app.test_client(), MARKETER).login().session_cookie())
    assert copy.get("/dashboard/").status_code == 200
    assert admin.post(f"/admin/users/{people[MARKETER]}", {"role": "marketer", "sites": site.key}).status_code == 303  # active unticked
    assert opens(copy, site.key) == NOTHING

    # A role change: the demoted admin's copied cookie stops working at once, console and dashboard.
    copy = holder_of(app, Console(app.test_client(), "second@example.dk").login().session_cookie())
    assert copy.get("/admin/").status_code == 200
    assert admin.post(f"/admin/users/{people['second@example.dk']}", {"role": "marketer", "active": "y"}).status_code == 303
    assert opens(copy, site.key) == NOTHING
    # Changing only the sites someone sees ends nothing (access is checked on every request anyway).
    colleague = Console(app.test_client(), "second@example.dk").login()
    assert admin.post(f"/admin/users/{people['second@example.dk']}", {"role": "marketer", "active": "y", "sites": site.key}).status_code == 303
    assert colleague.get("/dashboard/").status_code == 200


def test_reactivating_a_user_brings_back_neither_old_sessions_nor_old_api_tokens(app, site):
    make_user(ADMIN, "admin")
    marketer = make_user(MARKETER, sites=[site])
    token = make_token(marketer)
    bearer = {"Authorization": f"Bearer {token}"}
    admin = Console(app.test_client(), ADMIN).login()
    copy = holder_of(app, Console(app.test_client(), MARKETER).login().session_cookie())
    api = app.test_client()
    assert api.get(f"/api/v1/sites/{site.key}/stats", headers=bearer).status_code == 200
    assert admin.post(f"/admin/users/{marketer.id}", {"role": "marketer", "sites": site.key}).status_code == 303
    assert admin.post(f"/admin/users/{marketer.id}", {"role": "marketer", "active": "y", "sites": site.key}).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, marketer.id).active
    assert api.get(f"/api/v1/sites/{site.key}/stats", headers=bearer).status_code == 401
    assert db.session.execute(select(ApiToken.revoked)).scalar_one() is True
    assert opens(copy, site.key) == NOTHING
    # The person logs in afresh and gets new tokens; the audit trail says what happened.
    assert Console(app.test_client(), MARKETER).login().get("/dashboard/").status_code == 200
    trail = admin.get("/admin/audit").text
    assert "token.revoke" in trail


def test_a_busy_session_still_ends_its_lifetime_after_logging_in(make_app, app, site):
    """Every flash() re-signs the cookie with a fresh time; the login's own end does not move."""
    make_user(ADMIN, "admin")
    make_user(MARKETER, sites=[site])
    person = db.session.execute(select(User).where(User.email == MARKETER)).scalar_one()
    # Busy for 2.4 s of a 5 s login: the margin is for a loaded machine, where one save can take a second.
    short = make_app(PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=5))
    admin = Console(short.test_client(), ADMIN).login()
    started = time.monotonic()
    expiries = set()
    while time.monotonic() - started < 2.4:
        # An unchanged save flashes "nothing changed": a new Set-Cookie with a new signature time.
        saved = admin.post(f"/admin/users/{person.id}", {"role": "marketer", "active": "y", "sites": site.key})
        assert saved.status_code == 303
        cookie = next(c for c in saved.headers.getlist("Set-Cookie") if c.startswith("cookiegate_session="))
        expiries.add(parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0]))
        assert admin.get("/admin/").status_code == 200
        time.sleep(0.4)
    assert len(expiries) == 1  # re-signed again and again, the cookie keeps the login's end
    wait_until(lambda: admin.get("/admin/").status_code == 302, timeout=5, interval=0.1, message="the login outlived its lifetime")
    assert time.monotonic() - started >= 4  # not before its end (counted in whole seconds)
    assert admin.get(f"/api/v1/sites/{site.key}/stats").status_code == 401


def test_the_session_ends_server_side_even_when_the_cookie_is_kept_past_its_expiry(make_app, app, site):
    """A client that ignores Expires (a copied cookie does) gets nothing after the login's end."""
    make_user(MARKETER, sites=[site])
    short = make_app(PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=2))
    owner = Console(short.test_client(), MARKETER).login()
    logged_in = time.monotonic()
    copy = holder_of(short, owner.session_cookie())
    assert copy.get("/dashboard/").status_code == 200
    wait_until(lambda: copy.get("/dashboard/").status_code == 302, timeout=5, interval=0.1, message="the copied cookie outlived the login")
    assert time.monotonic() - logged_in >= 1  # not before its end (counted in whole seconds)
