"""The consent log's integrity in the console: every view shows the latest checkpoint and how
many records came after it (cheap at any size); verify-log, which reads the whole log, runs
only when someone presses "Verify the log now", shows green/amber/red and is audited."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select, text

from cookiegate.admin import consent_log
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
    assert consent_log.log_status(site) == {"checkpoint": None, "last_seq": 0, "unsigned": 0, "window_seconds": None,
                                           "window": None, "interval": 0}
    consents(client, site, 3)
    status = consent_log.log_status(site)
    assert (status["checkpoint"], status["last_seq"], status["unsigned"]) == (None, 3, 3)
    checkpoint(runner, site)
    consents(client, site, 2)
    status = consent_log.log_status(site)
    assert (status["checkpoint"].seq, status["last_seq"], status["unsigned"]) == (3, 5, 2)
    # The window: time since that checkpoint, in which the two records after it could change unseen.
    assert 0 <= status["window_seconds"] < 60 and status["window"].endswith(" s")


def test_verifying_gives_the_verdict_and_notes_the_run_in_the_audit_trail(client, runner, site):
    consents(client, site, 2)
    amber = consent_log.verify(site, "dpo@example.dk")["report"]
    db.session.commit()
    assert amber.status == "amber" and amber.records == 2
    checkpoint(runner, site)
    green = consent_log.verify(site, "dpo@example.dk")["report"]
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
    assert "data-window=" in green.text and "since the last checkpoint" in console.get(f"/admin/sites/{site.key}/consents?lang=en").text
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


def bulk_records(site, count: int) -> None:
    """`count` sealed records appended as the bulk loader does (no HTTP: this is about size)."""
    import datetime as dt

    from cookiegate.proof.bulk import append

    now = dt.datetime.now(dt.timezone.utc)
    append(site.id, site.key, [{"consent_id": f"{i:032x}", "created_at": now, "policy_version": 1, "method": "reject_all",
                                "choices": {"necessary": True}, "language": "da"} for i in range(count)])
    db.session.commit()


def test_a_verification_past_its_time_says_how_far_it_got_and_is_not_green(runner, site):
    bulk_records(site, 12_000)
    checkpoint(runner, site)
    partial = consent_log.verify(site, ADMIN, seconds=0)["report"]
    db.session.commit()
    assert (partial.status, partial.stopped_at, partial.upto, partial.problem_count) == ("partial", 5000, 12_000, 0)
    assert "checked up to seq 5000 of 12000" in partial.summary()
    assert consent_log.verify(site, ADMIN)["report"].status == "green"  # without a limit: the whole log
    db.session.execute(text("UPDATE consent_records SET method = 'accept_all' WHERE seq = 2"))
    db.session.commit()
    assert consent_log.verify(site, ADMIN, seconds=0)["report"].status == "red"  # found before the stop: red
    db.session.commit()
    assert [e["status"] for e in verify_events()] == ["partial", "green", "red"]


def test_the_button_stops_at_the_configured_time_and_names_the_command_for_the_whole_log(app, console, site):
    bulk_records(site, 6_000)
    app.config["COOKIEGATE_CONSOLE_VERIFY_SECONDS"] = 0
    try:
        page = console.post(f"/admin/sites/{site.key}/consents/verify?lang=en")
    finally:
        app.config["COOKIEGATE_CONSOLE_VERIFY_SECONDS"] = 20.0
    assert 'data-verify="partial"' in page.text and 'data-stopped-at="5000"' in page.text
    assert "the whole log was not checked" in page.text and f"cookiegate verify-log --site {site.key}" in page.text
