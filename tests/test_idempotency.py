"""Idempotency keys: a retry gets its own first answer, never another request's; keys expire."""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select, update

from cookiegate.consents import IDEMPOTENCY_TTL, expire_idempotency_keys
from cookiegate.extensions import db
from cookiegate.models import ConsentRecord, IdempotencyKey, utcnow

from .support import consent_body, database_text, make_site, post_consent

ORIGIN = "https://shop.example.dk"


def count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def withdraw(client, site_key, consent_id, token, key=None, **body):
    headers = {"Origin": ORIGIN}
    if key:
        headers["Idempotency-Key"] = key
    return client.post(
        f"/api/v1/sites/{site_key}/consents/{consent_id}/withdraw", data=json.dumps(dict(body, token=token)), headers=headers
    )


def test_another_visitor_reusing_a_key_with_another_body_gets_422_not_the_first_consent(client, site):
    key = {"Idempotency-Key": "shared-42"}
    a = post_consent(client, site.key, consent_body(method="accept_all", choices=None), headers=key)
    b = post_consent(client, site.key, consent_body(method="reject_all", choices=None), headers=key)
    assert a.status_code == 201
    assert b.status_code == 422
    assert b.get_json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotent-Replayed" not in b.headers
    assert a.get_json()["consent_id"] not in b.get_data(as_text=True)
    assert a.get_json()["token"] not in b.get_data(as_text=True)
    assert count(ConsentRecord) == 1


def test_the_same_body_again_is_replayed_exactly(client, site):
    body = consent_body(idempotency_key="retry-7")
    first = post_consent(client, site.key, body)
    second = post_consent(client, site.key, body)
    assert second.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" in second.headers["Access-Control-Expose-Headers"]  # a page's script may read it
    assert second.get_json() == first.get_json()
    assert count(ConsentRecord) == 1 and count(IdempotencyKey) == 1


def test_a_replay_after_a_policy_bump_still_answers_the_first_time(client, site, runner):
    key = {"Idempotency-Key": "before-bump"}
    first = post_consent(client, site.key, headers=key).get_json()
    assert runner.invoke(args=["cookiegate", "bump-policy", site.key]).exit_code == 0
    again = post_consent(client, site.key, headers=key)
    assert again.status_code == 201 and again.get_json() == first


def test_a_withdrawal_with_a_key_used_for_a_consent_withdraws(client, site):
    given = post_consent(client, site.key, headers={"Idempotency-Key": "k-1"}).get_json()
    response = withdraw(client, site.key, given["consent_id"], given["token"], key="k-1")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert response.get_json()["method"] == "withdraw"
    assert sorted(db.session.execute(select(ConsentRecord.method)).scalars()) == ["custom", "withdraw"]
    decision = client.get(f"/api/v1/sites/{site.key}/decision", headers={"X-Cookiegate-Token": given["token"]}).get_json()
    assert decision["status"] == "withdrawn"


def test_withdrawal_keys_are_scoped_to_the_consent(client, site):
    one = post_consent(client, site.key).get_json()
    two = post_consent(client, site.key).get_json()
    first = withdraw(client, site.key, one["consent_id"], one["token"], key="w")
    second = withdraw(client, site.key, two["consent_id"], two["token"], key="w")
    assert first.status_code == second.status_code == 201
    assert second.get_json()["consent_id"] == two["consent_id"]
    assert count(ConsentRecord) == 4


def test_a_withdrawal_retry_is_replayed_with_the_header(client, site):
    given = post_consent(client, site.key).get_json()
    first = withdraw(client, site.key, given["consent_id"], given["token"], key="w-1")
    second = withdraw(client, site.key, given["consent_id"], given["token"], key="w-1")
    assert second.headers["Idempotent-Replayed"] == "true" and second.get_json() == first.get_json()
    other_body = withdraw(client, site.key, given["consent_id"], given["token"], key="w-1", url="https://shop.example.dk/x")
    assert other_body.status_code == 422 and other_body.get_json()["error"]["code"] == "idempotency_key_reused"
    assert count(ConsentRecord) == 2


def test_keys_are_kept_hashed_and_outside_the_consent_log(client, site):
    post_consent(client, site.key, headers={"Idempotency-Key": "visible-key-123"})
    assert "visible-key-123" not in database_text()
    assert "idempotency_hash" not in ConsentRecord.__table__.columns
    stored = db.session.execute(select(IdempotencyKey)).scalar_one()
    assert len(stored.key_hash) == 64 and stored.site_id == site.id


def test_a_key_older_than_24_hours_starts_a_new_consent(client, site):
    key = {"Idempotency-Key": "old-key"}
    first = post_consent(client, site.key, headers=key).get_json()
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - IDEMPOTENCY_TTL - dt.timedelta(minutes=1)))
    db.session.commit()
    again = post_consent(client, site.key, consent_body(method="reject_all", choices=None), headers=key)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert again.get_json()["consent_id"] != first["consent_id"]
    assert count(ConsentRecord) == 2 and count(IdempotencyKey) == 1


def test_expired_keys_are_deleted_and_fresh_ones_kept(client, site):
    for i in range(3):
        post_consent(client, site.key, headers={"Idempotency-Key": f"k{i}"})
    db.session.execute(
        update(IdempotencyKey).where(IdempotencyKey.id <= 2).values(created_at=utcnow() - dt.timedelta(hours=25))
    )
    db.session.commit()
    assert expire_idempotency_keys() == 2
    assert count(IdempotencyKey) == 1
    assert expire_idempotency_keys() == 0


def test_same_key_on_another_site_is_independent(client, site):
    other = make_site(["https://other.example.dk"])
    a = post_consent(client, site.key, headers={"Idempotency-Key": "shared"})
    b = post_consent(client, other.key, consent_body(method="reject_all", choices=None), origin="https://other.example.dk", headers={"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.get_json()["consent_id"] != b.get_json()["consent_id"]


def test_concurrent_retries_with_one_key_store_one_record_and_get_one_answer(make_app, app, site):
    """Two server processes receive the same retry at the same moment: one record, the same answer everywhere."""
    import threading

    clients = [make_app().test_client() for _ in range(2)]
    answers, barrier, key = [], threading.Barrier(6), site.key

    def send(client):
        barrier.wait()
        response = post_consent(client, key, headers={"Idempotency-Key": "raced"})
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send, args=(clients[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [status for status, _ in answers] == [201] * 6
    assert len({json.dumps(body, sort_keys=True) for _, body in answers}) == 1
    assert count(ConsentRecord) == 1 and count(IdempotencyKey) == 1
