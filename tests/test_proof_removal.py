"""erase and purge: the visitor's data goes, a tombstone stays, the log still verifies."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
import requests
from sqlalchemy import func, select

from cookiegate import audit_trail
from cookiegate.extensions import db
from cookiegate.infra.signing import consent_hash
from cookiegate.models import AuditEvent, ConsentRecord, ConsentRevocation, IdempotencyKey, LogCheckpoint, Site, utcnow
from cookiegate.proof.bulk import append
from cookiegate.proof.ledger import PAYLOAD_FIELDS
from cookiegate.proof.removal import purge_site

from .support import chained, consent_body, database_text, post_consent, wait_until
from .test_stats import assert_equal_to_recount, raw_records

DAY = dt.timedelta(days=1)


def run(runner, *args):
    return runner.invoke(args=["cookiegate", *args])


def records():
    db.session.expire_all()
    return db.session.execute(select(ConsentRecord).order_by(ConsentRecord.seq)).scalars().all()


def decision(client, site, token):
    return client.get(f"/api/v1/sites/{site.key}/decision", headers={"X-Cookiegate-Token": token}).get_json()


def old_consents(site, count: int, created: dt.datetime, start: int = 0) -> list[str]:
    """Records made `created` ago, appended with valid hashes by the same ledger functions."""
    ids = [f"{start + i:032x}" for i in range(count)]
    append(site.id, site.key, [
        {"consent_id": cid, "created_at": created + dt.timedelta(seconds=i), "policy_version": 1, "method": "accept_all",
         "choices": {"necessary": True, "statistics": True, "marketing": True}, "city": "Aarhus", "page_url": "https://shop.example.dk/"}
        for i, cid in enumerate(ids)
    ])
    db.session.commit()
    return ids


def test_erase_leaves_tombstones_the_log_still_verifies_and_the_visitor_is_gone(client, runner, site):
    visitor = post_consent(client, site.key, consent_body(url="https://shop.example.dk/min-side")).get_json()
    post_consent(client, site.key)
    changed = post_consent(client, site.key, consent_body(method="accept_all", choices=None, token=visitor["token"])).get_json()
    assert changed["consent_id"] == visitor["consent_id"]
    assert run(runner, "checkpoint").exit_code == 0
    before = {r.seq: (r.payload_hash, r.chain_hash) for r in records()}

    result = run(runner, "erase", site.key, visitor["consent_id"])
    assert result.exit_code == 0, result.output
    assert "Erased 2 record(s)" in result.output

    after = records()
    assert {r.seq: (r.payload_hash, r.chain_hash) for r in after if r.seq in before} == before
    tombstones = [r for r in after if r.removed]
    assert [r.seq for r in tombstones] == [1, 3] and all(r.removed == "erased" for r in tombstones)
    for tombstone in tombstones:
        assert all(getattr(tombstone, name) is None for name in PAYLOAD_FIELDS)
        assert tombstone.kind == "consent" and tombstone.day is not None  # the non-personal facts stay
    # The erasure is on the chain itself: which seqs, why, and who as a keyed hash.
    removal = after[-1]
    assert removal.seq == 4 and removal.kind == "removal" and removal.consent_id is None
    assert removal.note["reason"] == "erase" and removal.note["seqs"] == [[1, 1], [3, 3]]
    assert removal.note["consent"] == consent_hash(visitor["consent_id"]) and len(removal.note["by"]) == 32
    assert visitor["consent_id"] not in database_text()
    assert "min-side" not in database_text()
    verified = run(runner, "verify-log")
    assert verified.exit_code == 0 and "amber, 4 records (2 tombstones) chained" in verified.output
    assert chained(after, site.key)


def test_an_erased_consents_tokens_answer_withdrawn_and_its_proof_is_gone(client, runner, site):
    given = post_consent(client, site.key, consent_body(method="accept_all", choices=None)).get_json()
    url = f"/api/v1/sites/{site.key}/consents/{given['consent_id']}"
    assert client.get(url, headers={"X-Cookiegate-Token": given["token"]}).status_code == 200
    assert decision(client, site, given["token"])["status"] == "given"
    assert run(runner, "erase", site.key, given["consent_id"]).exit_code == 0
    answer = decision(client, site, given["token"])
    assert answer["status"] == "withdrawn" and answer["tags"] == {"google_analytics": False, "facebook_pixel": False}
    response = client.get(url, headers={"X-Cookiegate-Token": given["token"]})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "unknown_consent"
    revocation = db.session.execute(select(ConsentRevocation)).scalar_one()
    assert revocation.reason == "erase" and revocation.consent_hash == consent_hash(given["consent_id"])


def test_erasure_reaches_every_server_process_within_the_state_ttl(live_server, live_site, runner):
    origin = live_server.url
    body = json.dumps(consent_body(method="accept_all", choices=None))
    given = requests.post(f"{origin}/api/v1/sites/{live_site.key}/consents", data=body,
                          headers={"Origin": origin, "Content-Type": "text/plain"}, timeout=10).json()
    decision_url = f"{origin}/api/v1/sites/{live_site.key}/decision"
    headers = {"X-Cookiegate-Token": given["token"]}
    assert {requests.get(decision_url, headers=headers, timeout=10).json()["status"] for _ in range(8)} == {"given"}
    assert run(runner, "erase", live_site.key, given["consent_id"]).exit_code == 0
    erased_at = time.monotonic()
    # The live server refreshes every second (COOKIEGATE_STATE_TTL=1); the contract is 60 s.
    # A worker that refreshed just before the erase may answer from that state for one TTL more.
    while True:
        statuses = {requests.get(decision_url, headers=headers, timeout=10).json()["status"] for _ in range(8)}
        if statuses == {"withdrawn"} and time.monotonic() - erased_at > 1.5:
            break
        assert time.monotonic() - erased_at < 10, statuses
        time.sleep(0.2)
    for _ in range(8):  # stays so in every worker
        assert requests.get(decision_url, headers=headers, timeout=10).json()["status"] == "withdrawn"


def test_erase_writes_an_audit_entry_with_the_consent_hash_not_the_id(client, runner, site):
    given = post_consent(client, site.key).get_json()
    run(runner, "erase", site.key, given["consent_id"])
    entry = db.session.execute(select(AuditEvent).where(AuditEvent.action == "consent.erase")).scalar_one()
    assert entry.site_id == site.id and entry.actor.startswith("cli")
    assert entry.details == {"consent_hash": consent_hash(given["consent_id"]), "records": 1}
    assert given["consent_id"] not in json.dumps(entry.details)


def test_erase_of_an_unknown_or_already_erased_consent_fails_clearly_and_changes_nothing(client, runner, site):
    given = post_consent(client, site.key).get_json()
    result = run(runner, "erase", site.key, "0" * 32)
    assert result.exit_code != 0 and "no records held" in result.output
    assert run(runner, "erase", "nosuchsite", given["consent_id"]).exit_code != 0
    assert run(runner, "erase", site.key, given["consent_id"]).exit_code == 0
    again = run(runner, "erase", site.key, given["consent_id"])
    assert again.exit_code != 0 and "erased already" in again.output
    assert db.session.execute(select(func.count()).select_from(ConsentRevocation)).scalar_one() == 1
    assert len(audit_trail.entries(action="consent.erase")) == 1


def test_purge_dry_run_counts_and_changes_nothing(client, runner, site):
    now = dt.datetime.now(dt.timezone.utc)
    old_consents(site, 5, now - 1100 * DAY)
    post_consent(client, site.key)
    before = [(r.seq, r.consent_id) for r in records()]
    result = run(runner, "purge", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"{site.key}: 5 record(s) created before" in result.output and "(365 + 730 days) would go" in result.output
    assert [(r.seq, r.consent_id) for r in records()] == before


def test_purge_tombstones_only_what_is_past_lifetime_plus_retention_then_signs_a_checkpoint(client, runner, site):
    now = dt.datetime.now(dt.timezone.utc)
    expired = old_consents(site, 7, now - (365 + 730 + 2) * DAY)
    kept = old_consents(site, 3, now - (365 + 730 - 2) * DAY, start=100)
    fresh = post_consent(client, site.key).get_json()
    result = run(runner, "purge", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert f"{site.key}: purged 7 record(s)" in result.output
    assert "cookiegate-checkpoint/1 site=" in result.output
    rows = records()
    assert [r.seq for r in rows if r.removed == "purged"] == list(range(1, 8))
    assert {r.consent_id for r in rows if not r.removed and r.kind != "removal"} == set(kept) | {fresh["consent_id"]}
    assert not set(expired) & {r.consent_id for r in rows}
    # One removal record per batch, after the 11 records: together they name exactly what went.
    removals = [r for r in rows if r.kind == "removal"]
    assert [r.seq for r in removals] == [12, 13, 14] and all(r.note["reason"] == "purge" for r in removals)
    assert sorted(seq for r in removals for first, last in r.note["seqs"] for seq in range(first, last + 1)) == list(range(1, 8))
    checkpoint = db.session.execute(select(LogCheckpoint)).scalar_one()
    assert checkpoint.seq == 14
    verified = run(runner, "verify-log")
    assert verified.exit_code == 0 and "green, 14 records (7 tombstones) verified" in verified.output
    entry = audit_trail.entries(action="log.purge")[0]
    assert entry.details["records"] == 7 and entry.site_id == site.id
    assert audit_trail.entries(action="log.checkpoint")
    second = run(runner, "purge")
    assert second.exit_code == 0 and "Purged 0 record(s) in all." in second.output


def test_purge_follows_each_sites_own_lifetime_and_retention_and_as_of(client, runner, site):
    db.session.execute(Site.__table__.update().values(consent_lifetime_days=30, retention_days=60))
    db.session.commit()
    now = dt.datetime.now(dt.timezone.utc)
    old_consents(site, 4, now - 100 * DAY)
    old_consents(site, 2, now - 80 * DAY, start=50)
    # 30 + 60 days: as of 15 days ago nothing was past it; as of 5 days ago the 100-day-old records were.
    early = run(runner, "purge", "--dry-run", "--as-of", (now - 15 * DAY).date().isoformat())
    assert f"{site.key}: 0 record(s)" in early.output
    result = run(runner, "purge", "--as-of", (now - 5 * DAY).date().isoformat())
    assert result.exit_code == 0 and f"{site.key}: purged 4 record(s)" in result.output
    assert run(runner, "purge").exit_code == 0
    assert [r.seq for r in records() if r.removed] == [1, 2, 3, 4]


def test_purge_refuses_a_day_in_the_future_or_a_bad_date(runner, site):
    tomorrow = (dt.datetime.now(dt.timezone.utc) + DAY).date().isoformat()
    result = run(runner, "purge", "--as-of", tomorrow)
    assert result.exit_code != 0 and "future" in result.output
    result = run(runner, "purge", "--as-of", "30/11/2026")
    assert result.exit_code != 0 and "YYYY-MM-DD" in result.output


def test_an_interrupted_purge_keeps_finished_batches_and_the_next_run_finishes(runner, site):
    now = dt.datetime.now(dt.timezone.utc)
    old_consents(site, 10, now - 1200 * DAY)
    done = []

    def interrupt_after_first_batch(count):
        done.append(count)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        purge_site(db.session.get(Site, site.id), now.date(), "test", batch=4, progress=interrupt_after_first_batch)
    db.session.rollback()
    assert done == [4]
    assert sum(1 for r in records() if r.removed == "purged") == 4
    assert run(runner, "verify-log").exit_code == 0
    result = run(runner, "purge")
    assert result.exit_code == 0 and "purged 6 record(s)" in result.output
    assert all(r.removed == "purged" for r in records() if r.kind != "removal")
    assert run(runner, "verify-log").exit_code == 0


def test_an_interrupted_purge_command_counts_the_batches_it_finished(runner, site, monkeypatch):
    from cookiegate.proof import removal

    now = dt.datetime.now(dt.timezone.utc)
    old_consents(site, 10, now - 1200 * DAY)

    def ctrl_c_while_resting(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr(removal.time, "sleep", ctrl_c_while_resting)
    result = run(runner, "purge", "--batch-size", "4")
    assert result.exit_code == 130
    assert "Interrupted after 4 record(s)" in result.output
    assert sum(1 for r in records() if r.removed == "purged") == 4


def test_purge_drops_revocations_whose_tokens_have_all_expired(client, runner, site):
    given = post_consent(client, site.key).get_json()
    run(runner, "erase", site.key, given["consent_id"])
    db.session.execute(ConsentRevocation.__table__.insert().values(
        site_id=site.id, consent_hash="a" * 64, revoked_at=dt.datetime.now(dt.timezone.utc) - 400 * DAY, reason="withdraw"))
    db.session.commit()
    assert run(runner, "purge").exit_code == 0
    left = db.session.execute(select(ConsentRevocation.consent_hash)).scalars().all()
    assert left == [consent_hash(given["consent_id"])]


def test_erase_drops_the_consents_retry_keys_and_a_retry_after_it_records_anew(client, runner, site):
    key = {"Idempotency-Key": "erase-me-1"}
    given = post_consent(client, site.key, headers=key).get_json()
    other = post_consent(client, site.key, headers={"Idempotency-Key": "someone-else"}).get_json()
    assert run(runner, "erase", site.key, given["consent_id"]).exit_code == 0
    kept = db.session.execute(select(IdempotencyKey.consent_id)).scalars().all()
    assert kept == [other["consent_id"]]
    # The stored answer went with the key: a late retry is a new consent, never the erased one.
    again = post_consent(client, site.key, headers=key)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["consent_id"] != given["consent_id"]


def test_purge_drops_retry_keys_older_than_24_hours(client, runner, site):
    post_consent(client, site.key, headers={"Idempotency-Key": "stale-key"})
    fresh = post_consent(client, site.key, headers={"Idempotency-Key": "fresh-key"}).get_json()
    db.session.execute(
        IdempotencyKey.__table__.update()
        .where(IdempotencyKey.consent_id != fresh["consent_id"])
        .values(created_at=utcnow() - 25 * dt.timedelta(hours=1))
    )
    db.session.commit()
    assert run(runner, "purge").exit_code == 0
    assert db.session.execute(select(IdempotencyKey.consent_id)).scalars().all() == [fresh["consent_id"]]


def test_consents_keep_being_written_while_purge_runs(live_server, live_site, runner):
    now = dt.datetime.now(dt.timezone.utc)
    old_consents(live_site, 3000, now - 1200 * DAY)
    origin = live_server.url
    url = f"{origin}/api/v1/sites/{live_site.key}/consents"
    statuses, stop = [], threading.Event()

    def write():
        with requests.Session() as session:
            while not stop.is_set():
                response = session.post(url, data=json.dumps(consent_body()), headers={"Origin": origin, "Content-Type": "text/plain"}, timeout=30)
                statuses.append(response.status_code)

    writers = [threading.Thread(target=write) for _ in range(3)]
    for thread in writers:
        thread.start()
    try:
        wait_until(lambda: len(statuses) >= 3, message="the writers never got an answer")  # writing before the purge starts
        result = run(runner, "purge", "--batch-size", "200")
    finally:
        stop.set()
        for thread in writers:
            thread.join()
    assert result.exit_code == 0, result.output
    assert "purged 3000 record(s)" in result.output
    assert statuses and set(statuses) == {201}
    rows = records()
    assert sum(1 for r in rows if r.removed == "purged") == 3000
    assert sum(1 for r in rows if not r.removed and r.kind != "removal") == len(statuses)
    verified = run(runner, "verify-log")
    assert verified.exit_code == 0, verified.output


def test_neither_erase_nor_purge_moves_the_statistics_totals(client, runner, site):
    # Nothing has read the statistics yet, so the rollups are behind every record below:
    # erase and purge must sum them in before they empty a record.
    now = dt.datetime.now(dt.timezone.utc)
    old_consents(site, 6, now - (365 + 730 + 2) * DAY)
    visitor = post_consent(client, site.key).get_json()
    post_consent(client, site.key, consent_body(method="accept_all", choices=None, token=visitor["token"]))
    post_consent(client, site.key, consent_body(method="reject_all", choices=None))
    recorded = raw_records(site)
    assert len(recorded) == 9

    assert run(runner, "erase", site.key, visitor["consent_id"]).exit_code == 0
    result = run(runner, "purge", "--batch-size", "4")
    assert result.exit_code == 0 and f"{site.key}: purged 6 record(s)" in result.output
    assert [r.seq for r in records() if r.removed] == [1, 2, 3, 4, 5, 6, 7, 8]

    first, last = (now - (365 + 730 + 10) * DAY).date(), now.date() + DAY
    for group_by in ("method", "month", "policy_version"):
        answer = assert_equal_to_recount(site, first, last, group_by, records=recorded)
    assert answer["totals"]["consents"] == 9 and answer["totals"]["accept_all"] == 7 and answer["totals"]["reject_all"] == 1
