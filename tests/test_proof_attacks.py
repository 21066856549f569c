"""The attack table of docs/proof.md, one test per row: someone with write access to the database
(raw SQL, their own hashing code, no cookiegate code and no checkpoint key) against the proof log,
on SQLite and PostgreSQL. Each test asserts the outcome the table states: caught, caught only
with a published copy of the checkpoints, or not caught (the window before the next checkpoint)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import text

from cookiegate.extensions import db
from cookiegate.models import LogCheckpoint
from cookiegate.proof import schedule
from cookiegate.proof.keys import checkpoint_keys, private_pem

from .support import consent_body, post_consent

ORIGIN = {"Origin": "https://shop.example.dk", "Content-Type": "text/plain"}
# The record's personal fields in hashing order, as docs/proof.md describes the format.
FIELDS = ("consent_id", "created_at", "policy_version", "choices", "method", "language", "page_url", "gpc", "country",
          "region", "city", "device_type", "browser_family", "os_family", "is_bot", "banner_hash")
BOOLEANS = {"gpc", "is_bot"}


# --- the attacker's own tools: SQL and hashlib --------------------------------------------------

def sql(statement: str, **params):
    result = db.session.execute(text(statement), params)
    db.session.commit()
    return result


def rows(site, columns: str = "*"):
    return db.session.execute(text(f"SELECT {columns} FROM consent_records WHERE site_id = :s ORDER BY seq"), {"s": site.id}).mappings().all()


def _time(value) -> str:
    if isinstance(value, str):  # SQLite keeps naive UTC text
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def attacker_payload_hash(row) -> str:
    values = []
    for name in FIELDS:
        value = row[name]
        if name == "created_at":
            value = _time(value)
        elif name == "choices" and isinstance(value, str):
            value = json.loads(value)
        elif name in BOOLEANS:
            value = bool(value)
        values.append(value)
    return hashlib.sha256(json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def attacker_rechain(site) -> None:
    """Recompute every payload hash of a whole record, every chain hash and the site's head."""
    previous = hashlib.sha256(f"cookiegate-log/1:{site.key}".encode()).hexdigest()
    for row in rows(site):
        payload = attacker_payload_hash(row) if row["consent_id"] is not None else row["payload_hash"]
        link = hashlib.sha256(f"{previous}:{row['seq']}:{row['kind']}:{row['day']}:{payload}".encode()).hexdigest()
        sql("UPDATE consent_records SET payload_hash = :p, chain_hash = :c WHERE id = :i", p=payload, c=link, i=row["id"])
        previous = link
    sql("UPDATE sites SET log_head = :h WHERE id = :s", h=previous, s=site.id)


def forge_tombstone(seq: int, site) -> None:
    """Blank every payload column and mark it erased, as erase would, without erase."""
    blank = ", ".join(f"{name} = NULL" for name in FIELDS)
    sql(f"UPDATE consent_records SET {blank}, removed = 'erased' WHERE site_id = :s AND seq = :q", s=site.id, q=seq)


# --- the cookiegate side ----------------------------------------------------------------------

def run(runner, *args):
    return runner.invoke(args=["cookiegate", *args])


def verify(runner, *args):
    result = run(runner, "verify-log", *args)
    return result.exit_code, result.output


def decision(client, site, token):
    return client.get(f"/api/v1/sites/{site.key}/decision", query_string={"token": token}).get_json()


@pytest.fixture
def signed(client, runner, site):
    """A visitor who consented and then withdrew, other visitors around them, a checkpoint over all of
    it, and the site's published checkpoint archive saved as a copy elsewhere."""
    given = post_consent(client, site.key, consent_body(method="accept_all", choices=None)).get_json()
    for _ in range(2):
        assert post_consent(client, site.key).status_code == 201
    withdrawn = client.post(f"/api/v1/sites/{site.key}/consents/{given['consent_id']}/withdraw",
                            data=json.dumps({"token": given["token"]}), headers=ORIGIN)
    assert withdrawn.status_code == 201
    assert post_consent(client, site.key).status_code == 201
    result = run(runner, "checkpoint", "--site", site.key)
    assert result.exit_code == 0, result.output
    archive = client.get(f"/api/v1/sites/{site.key}/checkpoints")
    assert archive.status_code == 200 and len(archive.get_json()["checkpoints"]) == 1
    code, output = verify(runner)
    assert code == 0 and f"{site.key}: green, 5 records verified" in output
    # Each receipt carries the latest checkpoint (a copy for the visitor) and says its notice verified.
    receipt = client.get(f"/api/v1/sites/{site.key}/consents/{given['consent_id']}", headers={"X-Cookiegate-Token": given["token"]}).get_json()
    assert receipt["verification"]["latest_checkpoint"] == archive.get_json()["latest"]
    assert [notice["verified"] for notice in receipt["notices"]] == [True]
    return {"given": given, "withdrawal_seq": 4, "archive": archive.get_data(as_text=True)}


@pytest.fixture
def published(tmp_path, signed):
    """The archive as a site owner or auditor keeps it: a file served over real HTTP on 127.0.0.1."""
    (tmp_path / "checkpoints.json").write_text(signed["archive"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/checkpoints.json"
    server.shutdown()
    server.server_close()


def checkpoint_refused(runner, site) -> bool:
    before = db.session.query(LogCheckpoint).count()
    result = run(runner, "checkpoint", "--site", site.key)
    db.session.expire_all()
    return result.exit_code == 1 and "NOT signed" in result.output and db.session.query(LogCheckpoint).count() == before


def assert_caught(runner, site, *problems: str) -> None:
    """verify-log goes red naming the problem, and `checkpoint` refuses to sign."""
    code, output = verify(runner)
    assert code == 1 and all(problem in output for problem in problems), output
    assert checkpoint_refused(runner, site)


# --- the table's rows -------------------------------------------------------------------------

def test_a_forged_tombstone_over_a_signed_withdrawal_is_caught(signed, client, runner, site, make_app):
    """Row 1: the withdrawal blanked, marked erased, its revocation deleted."""
    forge_tombstone(signed["withdrawal_seq"], site)
    sql("DELETE FROM consent_revocations WHERE site_id = :s", s=site.id)
    code, output = verify(runner)
    assert code == 1 and f"{site.key}: RED" in output
    assert f"seq {signed['withdrawal_seq']}: tombstone (erased) at seq {signed['withdrawal_seq']} that no removal record accounts for" in output
    assert checkpoint_refused(runner, site)
    # The tombstone still says what it was: a withdrawal (the chain covers kind and day).
    assert rows(site, "kind")[signed["withdrawal_seq"] - 1]["kind"] == "withdraw"


def test_a_forged_tombstone_with_a_forged_removal_record_is_caught(signed, runner, site):
    """Row 1, continued: the attacker also appends a removal record, but cannot make its MAC."""
    forge_tombstone(signed["withdrawal_seq"], site)
    sql("DELETE FROM consent_revocations WHERE site_id = :s", s=site.id)
    note = {"reason": "erase", "seqs": [[4, 4]], "by": "0" * 32, "at": "2026-12-01T00:00:00.000000+00:00", "mac": "f" * 64}
    payload = hashlib.sha256(json.dumps(note, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    head = db.session.execute(text("SELECT log_head FROM sites WHERE id = :s"), {"s": site.id}).scalar_one()
    today = dt.date.today().isoformat()
    link = hashlib.sha256(f"{head}:6:removal:{today}:{payload}".encode()).hexdigest()
    sql("INSERT INTO consent_records (site_id, seq, payload_hash, chain_hash, kind, day, note) VALUES (:s, 6, :p, :c, 'removal', :d, :n)",
        s=site.id, p=payload, c=link, d=dt.date.today(), n=json.dumps(note))
    sql("UPDATE sites SET log_seq = 6, log_head = :h WHERE id = :s", h=link, s=site.id)
    assert_caught(runner, site, "seq 6: removal record not written by cookiegate")


def test_a_deleted_revocation_is_caught(signed, runner, site):
    """Row 2: only the consent_revocations row of the withdrawal goes."""
    sql("DELETE FROM consent_revocations WHERE site_id = :s", s=site.id)
    assert_caught(runner, site, f"seq {signed['withdrawal_seq']} (consent {signed['given']['consent_id']}): the withdrawal's revocation is missing")


def test_rewritten_banner_text_is_caught_and_the_receipt_says_its_notice_does_not_verify(signed, client, runner, site):
    """Row 3: banner_snapshots.content rewritten; the receipt would show the forged text."""
    content = db.session.execute(text("SELECT hash, content FROM banner_snapshots WHERE site_id = :s"), {"s": site.id}).first()
    forged = json.loads(content[1]) if isinstance(content[1], str) else dict(content[1])
    forged["texts"] = {**forged.get("texts", {}), "title": "We never track anyone"}
    sql("UPDATE banner_snapshots SET content = :c WHERE hash = :h", c=json.dumps(forged), h=content[0])
    assert_caught(runner, site, f"banner text {content[0][:16]}… was rewritten")
    given = signed["given"]
    receipt = client.get(f"/api/v1/sites/{site.key}/consents/{given['consent_id']}", headers={"X-Cookiegate-Token": given["token"]}).get_json()
    assert [notice["verified"] for notice in receipt["notices"]] == [False]


def test_checkpoint_refuses_to_sign_a_log_tampered_before_its_last_checkpoint(signed, client, runner, site):
    """Row 4: new records arrive after the tampering; `checkpoint` verifies the whole log, not just what is new."""
    forge_tombstone(signed["withdrawal_seq"], site)
    assert post_consent(client, site.key).status_code == 201
    assert checkpoint_refused(runner, site)
    assert schedule.checkpoint_site(site, checkpoint_keys(), "test").outcome == "refused"


@pytest.mark.parametrize("change", ["truncate", "rewrite", "append"])
def test_the_window_after_the_last_checkpoint_is_not_caught_but_stated(signed, client, runner, site, change):
    """Row 5: records after the last checkpoint are chained, not signed; what verify-log says is the window."""
    for _ in range(2):
        assert post_consent(client, site.key).status_code == 201
    if change == "truncate":  # back to the checkpoint: amber even turns green
        sql("DELETE FROM consent_records WHERE site_id = :s AND seq > 5", s=site.id)
        head = db.session.execute(text("SELECT chain_hash FROM consent_records WHERE site_id = :s AND seq = 5"), {"s": site.id}).scalar_one()
        sql("UPDATE sites SET log_seq = 5, log_head = :h WHERE id = :s", h=head, s=site.id)
    elif change == "rewrite":
        sql("UPDATE consent_records SET page_url = 'https://shop.example.dk/forged' WHERE site_id = :s AND seq = 7", s=site.id)
        attacker_rechain(site)
    else:
        last = rows(site)[-1]
        sql("INSERT INTO consent_records (site_id, seq, consent_id, created_at, policy_version, choices, method, language, page_url, gpc, "
            "country, region, city, device_type, browser_family, os_family, is_bot, banner_hash, payload_hash, chain_hash, kind, day) "
            "SELECT site_id, 8, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', created_at, policy_version, choices, method, language, page_url, gpc, "
            "country, region, city, device_type, browser_family, os_family, is_bot, banner_hash, payload_hash, chain_hash, kind, day "
            "FROM consent_records WHERE id = :i", i=last["id"])
        sql("UPDATE sites SET log_seq = 8 WHERE id = :s", s=site.id)
        attacker_rechain(site)
    code, output = verify(runner)
    assert code == 0 and "window: last checkpoint signed" in output and "could be rewritten, appended or truncated unseen" in output


def test_the_service_signs_by_itself_once_per_interval_when_a_key_is_configured(signed, client, make_app, site, tmp_path):
    """Row 5's bound: the window is the interval. Two server processes, one signing per interval."""

    key = private_pem(checkpoint_keys().signer()).decode()
    first, second = make_app(COOKIEGATE_CHECKPOINT_KEY=key), make_app(COOKIEGATE_CHECKPOINT_KEY=key)
    assert post_consent(client, site.key).status_code == 201
    now = dt.datetime.now(dt.timezone.utc)
    signed_by_first = schedule.run_due(first, now)
    assert [r.outcome for r in signed_by_first] == ["signed"]
    assert schedule.run_due(second, now + dt.timedelta(seconds=10)) is None  # the interval is claimed
    assert schedule.run_due(second, now + dt.timedelta(seconds=301)) is not None
    db.session.expire_all()
    assert [c.seq for c in db.session.query(LogCheckpoint).order_by(LogCheckpoint.id)] == [5, 6]
    archive = client.get(f"/api/v1/sites/{site.key}/checkpoints")
    assert archive.headers["Cache-Control"] == "public, max-age=60" and archive.headers["Access-Control-Allow-Origin"] == "*"
    assert archive.get_json()["latest"] == signed_by_first[0].checkpoint.line()
    # Without a configured key (the development key does not count) the service never signs by itself.
    assert schedule.run_due(make_app(), now + dt.timedelta(days=1)) is None


def test_a_server_process_with_a_key_signs_on_its_own_schedule(signed, client, make_app, site):
    """Row 5's bound, as it runs: the first request starts the process's signing thread."""
    key = private_pem(checkpoint_keys().signer()).decode()
    server = make_app(COOKIEGATE_CHECKPOINT_KEY=key, COOKIEGATE_CHECKPOINT_INTERVAL=1)
    assert post_consent(client, site.key).status_code == 201
    scheduler = server.extensions["cookiegate.checkpoint_schedule"]
    try:
        assert server.test_client().get("/healthz").status_code in (200, 503)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            db.session.expire_all()
            if db.session.query(LogCheckpoint).filter(LogCheckpoint.seq == 6).count():
                break
            time.sleep(0.2)
        assert db.session.query(LogCheckpoint).filter(LogCheckpoint.seq == 6).count() == 1
    finally:
        scheduler.stop.set()
        scheduler.thread.join(10)
    assert not scheduler.thread.is_alive()


def test_the_consent_id_never_reaches_the_access_log(live_server, live_site):
    """Row 6: GET …/consents/<id> and POST …/<id>/withdraw are logged as their route."""
    origin = "http://localhost:%d" % live_server.port
    base = f"{live_server.url}/api/v1/sites/{live_site.key}"
    given = requests.post(f"{base}/consents", data=json.dumps(consent_body()), headers={"Origin": origin, "Content-Type": "text/plain"},
                          timeout=10).json()
    consent_id = given["consent_id"]
    assert requests.get(f"{base}/consents/{consent_id}", headers={"X-Cookiegate-Token": given["token"]}, timeout=10).status_code == 200
    assert requests.post(f"{base}/consents/{consent_id}/withdraw", data=json.dumps({"token": given["token"]}),
                         headers={"Origin": origin, "Content-Type": "text/plain"}, timeout=10).status_code == 201
    deadline = time.monotonic() + 10
    while "/consents/<consent_id>/withdraw" not in (logs := live_server.logs()) and time.monotonic() < deadline:
        time.sleep(0.1)  # gunicorn writes the line just after the answer
    assert "/consents/<consent_id>/withdraw" in logs and f"GET /api/v1/sites/{live_site.key}/consents/<consent_id> " in logs
    assert consent_id not in logs


def test_an_edited_signed_record_is_caught(signed, runner, site):
    """Row 7: one field of a signed record changed, nothing else."""
    sql("UPDATE consent_records SET method = 'accept_all' WHERE site_id = :s AND seq = 2", s=site.id)
    assert_caught(runner, site, "seq 2 (consent", "record altered")


def test_an_edited_and_rehashed_signed_record_is_caught_by_the_checkpoint(signed, runner, site):
    """Row 8: the edit, then every later hash and the head recomputed: the chain alone checks out."""
    sql("UPDATE consent_records SET method = 'accept_all', choices = :c WHERE site_id = :s AND seq = 2",
        c=json.dumps({"necessary": True, "statistics": True, "marketing": True}), s=site.id)
    attacker_rechain(site)
    assert_caught(runner, site, "seq 5: does not match the stored checkpoint")


def test_a_deleted_signed_record_is_caught(signed, runner, site):
    """Row 9: a signed record deleted (with or without renumbering the rest)."""
    sql("DELETE FROM consent_records WHERE site_id = :s AND seq = 2", s=site.id)
    assert_caught(runner, site, "record seq 2 missing (deleted)")


def test_a_checkpoint_row_forged_into_the_table_is_caught(signed, runner, site):
    """Row 10: a checkpoint over a rewritten log, with a made-up signature."""
    sql("UPDATE consent_records SET page_url = 'https://shop.example.dk/forged' WHERE site_id = :s AND seq = 2", s=site.id)
    attacker_rechain(site)
    head = db.session.execute(text("SELECT log_head FROM sites WHERE id = :s"), {"s": site.id}).scalar_one()
    sql("INSERT INTO log_checkpoints (site_id, seq, head, signed_at, key_id, signature) SELECT site_id, 5, :h, signed_at, key_id, "
        "signature FROM log_checkpoints WHERE site_id = :s", h=head, s=site.id)
    sql("DELETE FROM log_checkpoints WHERE site_id = :s AND head <> :h", s=site.id, h=head)
    assert_caught(runner, site, "stored checkpoint signed at", "is not valid: the signature does not match")


def test_dropped_checkpoints_hide_a_rewrite_unless_a_published_copy_is_checked(signed, published, runner, site):
    """Row 11: checkpoints deleted, then a signed record edited and the chain recomputed."""
    sql("DELETE FROM log_checkpoints WHERE site_id = :s", s=site.id)
    sql("UPDATE consent_records SET page_url = 'https://shop.example.dk/forged' WHERE site_id = :s AND seq = 2", s=site.id)
    attacker_rechain(site)
    code, output = verify(runner)
    assert code == 0 and f"{site.key}: amber" in output and "no checkpoint" in output  # not caught without a copy
    code, output = verify(runner, "--checkpoint-url", published)
    assert code == 1 and "seq 5: does not match the given checkpoint" in output


def test_a_wiped_log_never_reads_green_and_a_published_copy_catches_it(signed, published, runner, site):
    """Row 12: every record, checkpoint, revocation and snapshot deleted, the head reset."""
    for table in ("consent_records", "log_checkpoints", "consent_revocations", "banner_snapshots"):
        sql(f"DELETE FROM {table} WHERE site_id = :s", s=site.id)
    sql("UPDATE sites SET log_seq = 0, log_head = '' WHERE id = :s", s=site.id)
    code, output = verify(runner)
    assert code == 1 and "the log is empty, but it was signed before" in output  # the audit trail still says so
    sql("DELETE FROM audit_events WHERE site_id = :s", s=site.id)
    code, output = verify(runner)
    assert code == 0 and f"{site.key}: empty, no records and no sign that any were ever signed" in output
    assert "green" not in output  # not caught without a copy, but never "green, empty"
    code, output = verify(runner, "--checkpoint-url", published)
    assert code == 1 and "names seq 5, beyond the end of the log: records were deleted" in output


def test_an_unreadable_checkpoint_url_is_a_clear_error(runner, site, tmp_path):
    code, output = verify(runner, "--checkpoint-url", "http://127.0.0.1:9/checkpoints")
    assert code == 1 and "cannot read the checkpoint archive at http://127.0.0.1:9/checkpoints" in output
    (tmp_path / "lines.txt").write_text("not a checkpoint\n")
    code, output = verify(runner, "--checkpoint-url", (tmp_path / "lines.txt").as_uri())
    assert code == 1 and "not a checkpoint line" in output
