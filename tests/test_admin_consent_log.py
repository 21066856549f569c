"""The consent log's integrity in the console: every view shows the latest checkpoint and how
many records came after it (cheap at any size); verify-log, which reads the whole log, runs
only when someone presses "Verify the log now", shows green/amber/red and is audited."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select, text

from cookiegate.admin import consentlog
from cookiegate.extensions import db
from cookiegate.models import AuditEvent

from .admin_support import Console, make_user
from .support import post_consent

ADMIN = "admin@example.dk"


def consents(client, site, count: int) -> None:
    for _ in range(count):
        assert post_consent(client, site.key).status_code == 201


def checkpoint(runner, site) -> None:
    result = runner.invoke(args=["cookiegate", "checkpoint", "--site", site.key])
    assert result.exit_code == 0, result.output


def verify_events() -> list[dict]:
    db.session.expire_all()
    rows = db.session.execute(select(AuditEvent).where(AuditEvent.action == "log.verify").order_by(AuditEvent.id)).scalars()
    return [{"actor": e.actor, **(e.details or {})} for e in rows]


def test_the_status_is_the_latest_checkpoint_and_the_records_after_it(client, runner, site):
    assert consentlog.log_status(site) == {"checkpoint": None, "last_seq": 0, "unsigned": 0}
    consents(client, site, 3)
    status = consentlog.log_status(site)
    assert (status["checkpoint"], status["last_seq"], status["unsigned"]) == (None, 3, 3)
    checkpoint(runner, site)
    consents(client, site, 2)
    status = consentlog.log_status(site)
    assert (status["checkpoint"].seq, status["last_seq"], status["unsigned"]) == (3, 5, 2)


def test_verifying_gives_the_verdict_and_notes_the_run_in_the_audit_trail(client, runner, site):
    consents(client, site, 2)
    amber = consentlog.verify(site, "dpo@example.dk")["report"]
    db.session.commit()
    assert amber.status == "amber" and amber.records == 2
    checkpoint(runner, site)
    green = consentlog.verify(site, "dpo@example.dk")["report"]
    db.session.commit()
    assert green.status == "green"
    assert [(e["actor"], e["status"], e["records"]) for e in verify_events()] == [
        ("dpo@example.dk", "amber", 2), ("dpo@example.dk", "green", 2),
    ]
    assert "signed up to seq 2" in verify_events()[-1]["summary"]


@pytest.fixture
def console(app):
    make_user(ADMIN, "admin")
    return Console(app.test_client(), ADMIN).login()


def test_viewing_the_consent_log_does_not_read_the_whole_log(console, client, site):
    consents(client, site, 3)
    statements = []

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        page = console.get(f"/admin/sites/{site.key}/consents")
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert page.status_code == 200
    # verify-log reads every record's hashes; the page reads none.
    assert not [s for s in statements if "chain_hash" in s and "consent_records" in s]
    assert 'data-checkpoint="none"' in page.text and 'data-unsigned="3"' in page.text
    assert "data-verify" not in page.text and 'data-action="verify-log"' in page.text
    assert verify_events() == []


def test_the_verify_button_shows_amber_green_and_red_with_the_problems(console, client, runner, site):
    consents(client, site, 3)
    path = f"/admin/sites/{site.key}/consents/verify"
    amber = console.post(path)
    assert amber.status_code == 200 and 'data-verify="amber"' in amber.text and "status-amber" in amber.text
    assert "not yet covered by a signed checkpoint" in console.post(path + "?lang=en").text
    checkpoint(runner, site)
    green = console.post(path)
    assert 'data-verify="green"' in green.text and f"{site.key}: green, 3 records verified" in green.text
    assert 'data-checkpoint="3"' in green.text and "data-unsigned" not in green.text
    db.session.execute(text("UPDATE consent_records SET method = 'accept_all' WHERE seq = 2"))
    db.session.commit()
    red = console.post(path)
    assert 'data-verify="red"' in red.text and "<ul data-problems><li>seq 2 (consent " in red.text
    assert "record altered" in red.text
    assert [(e["actor"], e["status"]) for e in verify_events()] == [
        (ADMIN, "amber"), (ADMIN, "amber"), (ADMIN, "green"), (ADMIN, "red"),
    ]
    trail = console.get(f"/admin/sites/{site.key}/audit?action=log.verify")
    assert trail.text.count('<tr data-action="log.verify">') == 4


def test_verifying_needs_the_csrf_token_and_an_admin(app, console, site):
    assert console.post(f"/admin/sites/{site.key}/consents/verify", csrf=False).status_code in (400, 403)
    make_user("m@example.dk", "marketer", [site])
    marketer = Console(app.test_client(), "m@example.dk").login()
    assert marketer.post(f"/admin/sites/{site.key}/consents/verify").status_code == 403
    assert verify_events() == []
