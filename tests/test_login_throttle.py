"""Failed logins: a guessing address is locked out of one account, the account slows down with a
growing delay, and neither locks the owner out; failures, lockouts and logins are in the audit
trail without an address. Attacks are made from several addresses, as an attacker would."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.models import AuditEvent

from .support import database_text
from .web_support import PASSWORD, csrf_token, login, make_user

OWNER = "root@example.dk"
WRONG = "wrong password!"


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def audit(action: str) -> list[dict]:
    db.session.expire_all()
    return [dict(e.details, actor=e.actor) for e in db.session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()]


def test_failures_from_one_address_lock_that_address_out_of_that_account_only(make_app, app, site):
    make_user(OWNER, "admin")
    make_user("bo@example.dk", sites=[site])
    limited = make_app(COOKIEGATE_LOGIN_PAIR_RATELIMIT="3 per 15 minutes", COOKIEGATE_LOGIN_FREE_FAILURES=100,
                       COOKIEGATE_LOGIN_RATELIMIT="100 per minute")
    attacker = from_address(limited, "10.0.0.1")
    assert [login(attacker, OWNER, WRONG).status_code for _ in range(3)] == [401, 401, 401]
    locked = login(attacker, OWNER)  # even the right password, from this address
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 60
    assert locked.mimetype == "text/html"
    # The owner elsewhere is not locked out; the attacking address may still use other accounts.
    assert login(from_address(limited, "10.0.0.2"), OWNER).status_code == 303
    assert login(from_address(limited, "10.0.0.1"), "bo@example.dk").status_code == 303
    failures = audit("login.failure")
    assert len(failures) == 3 and {f["email"] for f in failures} == {OWNER} and {f["actor"] for f in failures} == {"anonymous"}
    assert [(e["scope"], e["email"]) for e in audit("login.lockout")] == [("address", OWNER)]
    successes = audit("login.success")
    assert [s["actor"] for s in successes] == [OWNER, "bo@example.dk"]
    clients = {e["client"] for e in failures + successes}
    assert len(clients) == 2 and all(len(c) == 12 for c in clients)  # a keyed hash per address
    assert "10.0.0.1" not in database_text() and "10.0.0.2" not in database_text()


def test_failures_from_many_addresses_slow_the_account_down_with_a_growing_delay(make_app, app, site):
    make_user(OWNER, "admin")
    limited = make_app(COOKIEGATE_LOGIN_PAIR_RATELIMIT="100 per 15 minutes", COOKIEGATE_LOGIN_FREE_FAILURES=2,
                       COOKIEGATE_LOGIN_MAX_DELAY=2, COOKIEGATE_LOGIN_RATELIMIT="100 per minute")
    owners_browser = from_address(limited, "192.0.2.7")
    assert login(owners_browser, OWNER).status_code == 303  # an earlier login: this browser holds a device cookie
    owners_browser.post("/logout", data={"csrf_token": csrf_token(owners_browser.get("/dashboard/").text)})
    addresses = iter(f"10.1.0.{n}" for n in range(1, 200))

    def guess():
        return login(from_address(limited, next(addresses)), OWNER, WRONG)

    assert [guess().status_code for _ in range(3)] == [401, 401, 401]  # two free failures, the third starts the delay
    waiting = guess()
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert guess().status_code == 401  # allowed again after 1 s; this failure doubles the delay
    waiting = guess()
    assert waiting.status_code == 429 and waiting.headers["Retry-After"] == "2"
    time.sleep(2.1)
    assert guess().status_code == 401
    assert guess().headers["Retry-After"] == "2"  # never more than COOKIEGATE_LOGIN_MAX_DELAY
    # The owner's own browser skips the delay; a new browser waits at most the maximum, then gets in.
    assert login(owners_browser, OWNER).status_code == 303
    stranger_browser = from_address(limited, "198.51.100.9")
    assert login(stranger_browser, OWNER).status_code == 429
    time.sleep(2.1)
    assert login(stranger_browser, OWNER).status_code == 303
    lockouts = audit("login.lockout")
    assert [(e["scope"], e["delay_seconds"]) for e in lockouts] == [("account", 1)]
    assert len(audit("login.failure")) == 5  # refused attempts (429) are not password checks


def test_an_attacker_at_another_address_cannot_lock_the_owner_out_with_the_default_settings(make_app, app, site):
    make_user(OWNER, "admin")
    served = make_app(COOKIEGATE_LOGIN_RATELIMIT="1000 per minute")  # as if the attacker had many addresses' worth
    owner = from_address(served, "192.0.2.7")
    assert login(owner, OWNER).status_code == 303
    owner.post("/logout", data={"csrf_token": csrf_token(owner.get("/dashboard/").text)})
    attacker = from_address(served, "203.0.113.66")
    statuses, right_password = [], None
    for _ in range(40):
        statuses.append(login(attacker, OWNER, WRONG).status_code)
        if statuses.count(401) == 6 and right_password is None:
            # At once after a failure past the five free ones (the delay is 1 s): the right password
            # from the guessing address waits too.
            right_password = login(attacker, OWNER).status_code
    # The pair lock and the delay hold the guesser back. How many of the 40 land in a delay depends on
    # how fast the machine answers (a loaded one lets a delay run out between two guesses), not on
    # what is promised: at most 10 password checks from the pair, and never two within the delay.
    assert set(statuses) == {401, 429} and 6 <= statuses.count(401) <= 10
    assert right_password == 429
    assert login(owner, OWNER).status_code == 303  # while the owner gets in at once


def test_the_device_cookie_is_private_to_login_and_to_its_account(make_app, app, site):
    make_user(OWNER, "admin")
    make_user("bo@example.dk", sites=[site])
    limited = make_app(COOKIEGATE_LOGIN_FREE_FAILURES=1, COOKIEGATE_LOGIN_MAX_DELAY=30, COOKIEGATE_LOGIN_RATELIMIT="100 per minute",
                       COOKIEGATE_LOGIN_PAIR_RATELIMIT="3 per 15 minutes")
    bo = from_address(limited, "192.0.2.8")
    answer = login(bo, "bo@example.dk")
    device = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("cookiegate_device="))
    assert "HttpOnly" in device and "SameSite=Strict" in device and "Path=/login" in device and "Max-Age=" in device
    bo.post("/logout", data={"csrf_token": csrf_token(bo.get("/dashboard/").text)})
    for address in ("10.2.0.1", "10.2.0.2"):  # the owner's account now waits 1 s, then 2 s
        login(from_address(limited, address), OWNER, WRONG)
    # Bo's device cookie is for Bo: it does not skip the owner's delay; nor does a forged one.
    assert login(bo, OWNER).status_code == 429
    forged = from_address(limited, "192.0.2.9")
    forged.set_cookie("cookiegate_device", device.split(";")[0].split("=", 1)[1][:-3] + "abc", path="/login")
    assert login(forged, OWNER).status_code == 429
    # A device that fails too often (its own pair-sized allowance) is trusted no more.
    own = from_address(limited, "192.0.2.10")
    time.sleep(2.1)
    assert login(own, OWNER).status_code == 303
    own.post("/logout", data={"csrf_token": csrf_token(own.get("/dashboard/").text)})
    for n in range(3):
        own.environ_base["REMOTE_ADDR"] = f"192.0.2.{20 + n}"  # other addresses, the same device
        assert login(own, OWNER, WRONG).status_code == 401
    own.environ_base["REMOTE_ADDR"] = "192.0.2.30"
    assert login(own, OWNER).status_code == 429


def test_unknown_accounts_cost_a_password_check_and_what_was_typed_is_never_kept(make_app, app, site):
    make_user(OWNER, "admin")
    typed = "hunter2-typed-into-the-email-field@example.dk"
    assert login(app.test_client(), typed, PASSWORD).status_code == 401
    failure = audit("login.failure")[-1]
    assert failure["email"] is None and failure["known_account"] is False
    assert "hunter2" not in database_text()
    deactivated = make_user("gone@example.dk", sites=[site])
    deactivated.active = False
    db.session.commit()
    assert login(app.test_client(), "gone@example.dk").status_code == 401
    assert audit("login.failure")[-1]["reason"] == "inactive"


def test_the_old_per_account_lock_setting_is_refused_with_what_replaced_it(tmp_path, monkeypatch):
    from cookiegate import create_app
    from cookiegate.config import ConfigError

    monkeypatch.setenv("COOKIEGATE_LOGIN_ACCOUNT_RATELIMIT", "10 per 15 minutes")
    with pytest.raises(ConfigError, match="COOKIEGATE_LOGIN_PAIR_RATELIMIT"):
        create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
