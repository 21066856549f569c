"""Passwords and accounts: your own password (the current one required), an admin's new password
or one-time reset link (signed, single use, one hour), deleting users (the audit trail keeps
their e-mail), set-password / delete-user on the command line, and named API tokens."""
from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from cookiegate.auth.users import check_password, reset_token, user_for_reset_token
from cookiegate.extensions import db
from cookiegate.models import ApiToken, AuditEvent, LoginSession, User

from .admin_support import Console
from .support import database_text
from .web_support import PASSWORD, assert_strict_html_headers, make_token, make_user

ADMIN = "root@example.dk"
MARKETER = "mia@example.dk"
NEW = "a brand new passphrase"


def stored_hash(email: str) -> str:
    db.session.expire_all()
    return db.session.execute(select(User.password_hash).where(User.email == email)).scalar_one()


def actions() -> list[str]:
    db.session.expire_all()
    return list(db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def test_changing_your_own_password_needs_the_current_one_and_shows_errors_next_to_the_fields(app, site):
    make_user(MARKETER, sites=[site])
    me = Console(app.test_client(), MARKETER).login()
    page = me.get("/account/password?lang=da")
    assert page.status_code == 200 and "Skift din adgangskode" in page.text
    assert_strict_html_headers(page)
    assert 'name="current_password"' in page.text and 'name="csrf_token"' in page.text
    assert "<script" not in page.text and " style=" not in page.text
    before = stored_hash(MARKETER)

    wrong = me.post("/account/password?lang=da", {"current_password": "not my password", "new_password": NEW, "confirm": NEW})
    assert wrong.status_code == 422
    assert 'id="e-current_password" data-error="current_password">Det er ikke din nuværende adgangskode.' in wrong.text
    assert 'aria-invalid="true"' in wrong.text and NEW not in wrong.text  # nothing typed comes back
    short = me.post("/account/password?lang=en", {"current_password": PASSWORD, "new_password": "short", "confirm": "other"})
    assert short.status_code == 422
    assert 'data-error="new_password">At least 10 characters.' in short.text
    assert 'data-error="confirm">The two passwords differ.' in short.text
    assert stored_hash(MARKETER) == before
    assert me.post("/account/password", {"current_password": PASSWORD, "new_password": NEW, "confirm": NEW}, csrf=False).status_code == 400

    done = me.post("/account/password?lang=en", {"current_password": PASSWORD, "new_password": NEW, "confirm": NEW})
    assert done.status_code == 303
    assert "Your password is changed" in me.get("/account/password?lang=en").text
    assert check_password(stored_hash(MARKETER), NEW)
    assert "user.password_change" in actions()
    # The next login takes the new password only.
    assert Console(app.test_client(), MARKETER, NEW).login()
    with pytest.raises(AssertionError):
        Console(app.test_client(), MARKETER).login()


def test_guessing_the_current_password_through_a_borrowed_session_stops_after_five_tries(app, site):
    make_user(MARKETER, sites=[site])
    me = Console(app.test_client(), MARKETER).login()
    for _ in range(5):
        assert me.post("/account/password", {"current_password": "guess guess", "new_password": NEW, "confirm": NEW}).status_code == 422
    blocked = me.post("/account/password", {"current_password": PASSWORD, "new_password": NEW, "confirm": NEW})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert not check_password(stored_hash(MARKETER), NEW)


def reset_link_from(page_html: str) -> str:
    return unescape(re.search(r"<code id=\"reset-link\" data-reset-link>([^<]+)</code>", page_html).group(1))


def test_a_reset_link_is_shown_once_and_sets_a_password_once(app, site):
    make_user(ADMIN, "admin")
    person = make_user(MARKETER, sites=[site])
    admin = Console(app.test_client(), ADMIN).login()
    marketer = Console(app.test_client(), MARKETER).login()
    made = admin.post(f"/admin/users/{person.id}/reset-link?lang=en")
    assert made.status_code == 200 and "works once, within one hour" in made.text
    link = reset_link_from(made.text)
    parts = urlsplit(link)
    assert parts.path == "/password/reset"  # the token rides in the query string, which no access log keeps
    token = parse_qs(parts.query)["token"][0]
    assert token not in database_text() and token not in admin.get("/admin/audit").text
    assert "user.reset_link" in actions()

    visitor = Console(app.test_client(), MARKETER)
    form = visitor.get(f"/password/reset?token={token}&lang=en")
    assert form.status_code == 200 and MARKETER in form.text
    assert_strict_html_headers(form)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form.text).group(1)
    mismatch = visitor._request("post", "/password/reset?lang=en", data={"csrf_token": csrf, "token": token, "new_password": NEW, "confirm": "x" * 12})
    assert mismatch.status_code == 422 and 'data-error="confirm">The two passwords differ.' in mismatch.text
    accepted = visitor._request("post", "/password/reset", data={"csrf_token": csrf, "token": token, "new_password": NEW, "confirm": NEW})
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith("/login")
    assert check_password(stored_hash(MARKETER), NEW)
    assert marketer.get("/dashboard/").status_code == 302  # their sessions ended with the old password
    assert "user.password_reset" in actions()
    # Used once: the same link no longer works, neither to look at nor to post.
    again = visitor.get(f"/password/reset?token={token}")
    assert again.status_code == 410 and 'data-error="reset-link"' in again.text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', visitor.get("/login").text).group(1)  # the session's new token
    replay = visitor._request("post", "/password/reset", data={"csrf_token": csrf, "token": token, "new_password": "yet another one!", "confirm": "yet another one!"})
    assert replay.status_code == 410
    assert check_password(stored_hash(MARKETER), NEW)
    assert Console(app.test_client(), MARKETER, NEW).login()


def test_a_reset_link_expires_after_an_hour_and_dies_with_deactivation_or_a_new_password(app, site, monkeypatch):
    person = make_user(MARKETER, sites=[site])
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3601)
    old = reset_token(person, "test")
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    assert user_for_reset_token(old) is None
    fresh = reset_token(person, "test")
    assert user_for_reset_token(fresh).id == person.id
    # Another reset (or any new password) ends the earlier link.
    from cookiegate.auth.users import set_password

    set_password(person, "changed by someone", actor="test")
    db.session.commit()
    assert user_for_reset_token(fresh) is None
    later = reset_token(person, "test")
    person.active = False
    db.session.commit()
    assert user_for_reset_token(later) is None
    # Tampered, or signed for another purpose (a banner preview), is no reset token either.
    assert user_for_reset_token(later[:-2] + "xx") is None
    from itsdangerous import URLSafeTimedSerializer

    other_purpose = URLSafeTimedSerializer(app.config["COOKIEGATE_SECRET_KEYS"], salt="cookiegate.admin-preview.v1")
    assert user_for_reset_token(other_purpose.dumps({"u": person.id, "f": "x"})) is None


def test_admins_set_other_peoples_passwords_and_their_own_only_with_the_current_one(app, site):
    me = make_user(ADMIN, "admin")
    person = make_user(MARKETER, sites=[site])
    admin = Console(app.test_client(), ADMIN).login()
    page = admin.get(f"/admin/users/{person.id}?lang=da")
    assert 'data-action="set-password"' in page.text and 'data-action="reset-link"' in page.text and 'data-action="delete-user"' in page.text
    bad = admin.post(f"/admin/users/{person.id}/password?lang=da", {"new_password": "kort", "confirm": "kort"})
    assert bad.status_code == 422 and 'data-error="new_password">Mindst 10 tegn.' in bad.text
    assert admin.post(f"/admin/users/{person.id}/password", {"new_password": NEW, "confirm": NEW}).status_code == 303
    assert check_password(stored_hash(MARKETER), NEW)
    own = admin.get(f"/admin/users/{me.id}")
    assert 'data-action="set-password"' not in own.text and 'data-action="delete-user"' not in own.text
    assert "/account/password" in own.text
    redirected = admin.post(f"/admin/users/{me.id}/password", {"new_password": NEW, "confirm": NEW})
    assert redirected.status_code == 303 and redirected.headers["Location"].endswith("/account/password")
    assert not check_password(stored_hash(ADMIN), NEW)
    assert admin.post(f"/admin/users/{me.id}/reset-link").status_code == 409
    # A marketer has no say in anyone's password.
    marketer = Console(app.test_client(), MARKETER, NEW).login()
    assert marketer.post(f"/admin/users/{me.id}/password", {"new_password": "taken over now", "confirm": "taken over now"}).status_code == 403
    assert marketer.post(f"/admin/users/{me.id}/reset-link").status_code == 403


def test_deleting_a_user_takes_their_tokens_and_sessions_and_the_audit_trail_keeps_their_email(app, site):
    make_user(ADMIN, "admin")
    person = make_user(MARKETER, sites=[site])
    token = make_token(person)
    admin = Console(app.test_client(), ADMIN).login()
    marketer = Console(app.test_client(), MARKETER).login()
    assert marketer.get("/account/password?lang=en").status_code == 200  # the marketer acts: their e-mail is the actor
    marketer.post("/account/password", {"current_password": PASSWORD, "new_password": NEW, "confirm": NEW})
    ask = admin.get(f"/admin/users/{person.id}/delete?lang=en")
    assert ask.status_code == 200 and 'data-action="confirm"' in ask.text
    assert_strict_html_headers(ask)
    slip = admin.post(f"/admin/users/{person.id}/delete?lang=da", {"email": "someone@else.dk"})
    assert slip.status_code == 422 and "Skriv brugerens e-mailadresse for at bekræfte." in slip.text
    person_id = person.id
    assert admin.post(f"/admin/users/{person_id}/delete", {"email": MARKETER.upper()}).status_code == 303
    db.session.expire_all()
    assert db.session.execute(select(User).where(User.id == person_id)).first() is None
    assert db.session.execute(select(ApiToken)).first() is None
    assert db.session.execute(select(LoginSession).where(LoginSession.user_id == person_id)).first() is None
    assert app.test_client().get(f"/api/v1/sites/{site.key}/stats", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert marketer.get("/dashboard/").status_code == 302
    entries = db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
    assert any(e.actor == MARKETER and e.action == "user.password_change" for e in entries)
    assert any(e.action == "user.delete" and e.details["email"] == MARKETER for e in entries)
    assert MARKETER in admin.get("/admin/audit").text
    # Nobody deletes their own account (another admin must), and it takes an admin.
    me = db.session.execute(select(User).where(User.email == ADMIN)).scalar_one()
    assert admin.post(f"/admin/users/{me.id}/delete", {"email": ADMIN}).status_code == 409
    assert db.session.get(User, me.id) is not None


def test_set_password_and_delete_user_on_the_command_line(runner, app, site):
    make_user(MARKETER, sites=[site])
    browser = Console(app.test_client(), MARKETER).login()
    result = runner.invoke(args=["cookiegate", "set-password", MARKETER, "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "At least 10 characters" in result.output
    result = runner.invoke(args=["cookiegate", "set-password", MARKETER.upper(), "--password-stdin"], input=NEW + "\n")
    assert result.exit_code == 0, result.output
    assert check_password(stored_hash(MARKETER), NEW)
    assert browser.get("/dashboard/").status_code == 302
    assert runner.invoke(args=["cookiegate", "set-password", "nobody@example.dk", "--password-stdin"], input=NEW + "\n").exit_code != 0
    prompted = runner.invoke(args=["cookiegate", "set-password", MARKETER], input="typed twice here\ntyped twice here\n")
    assert prompted.exit_code == 0 and check_password(stored_hash(MARKETER), "typed twice here")

    assert runner.invoke(args=["cookiegate", "delete-user", MARKETER], input="n\n").exit_code != 0
    assert db.session.execute(select(User)).first() is not None
    result = runner.invoke(args=["cookiegate", "delete-user", MARKETER, "--yes"])
    assert result.exit_code == 0, result.output
    assert db.session.execute(select(User)).first() is None
    details = [e.details for e in db.session.execute(select(AuditEvent).where(AuditEvent.action == "user.delete")).scalars()]
    assert details == [{"email": MARKETER, "role": "marketer"}]


def test_api_tokens_have_names_from_the_command_line_too(runner, app, site):
    make_user(MARKETER, sites=[site])
    result = runner.invoke(args=["cookiegate", "create-token", MARKETER, "--name", "Power BI report"])
    assert result.exit_code == 0, result.output
    assert db.session.execute(select(ApiToken.name)).scalar_one() == "Power BI report"
    bad = runner.invoke(args=["cookiegate", "create-token", MARKETER, "--name", "x" * 81])
    assert bad.exit_code != 0 and "At most 80 characters" in bad.output
    assert runner.invoke(args=["cookiegate", "create-token", MARKETER]).exit_code == 0  # a name is optional here
    revoked = runner.invoke(args=["cookiegate", "revoke-token", "--user", MARKETER])
    assert revoked.exit_code == 0 and "2 token" in revoked.output
