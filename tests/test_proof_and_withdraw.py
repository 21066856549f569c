"""A visitor's own proof of consent, and withdrawal as easy as consent."""
from __future__ import annotations

import json

from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.infra.signing import consent_hash
from cookiegate.models import ConsentRecord, ConsentRevocation

from .support import consent_body, make_site, post_consent

ORIGIN = {"Origin": "https://shop.example.dk"}


def withdraw(client, site_key, consent_id, token, **kwargs):
    kwargs.setdefault("headers", dict(ORIGIN))
    return client.post(f"/api/v1/sites/{site_key}/consents/{consent_id}/withdraw", data=json.dumps({"token": token}), **kwargs)


def test_proof_lists_every_record_with_the_banner_texts_shown(client, site):
    first = post_consent(client, site.key, consent_body(url="https://shop.example.dk/?q=secret")).get_json()
    post_consent(client, site.key, consent_body(method="accept_all", choices=None, token=first["token"], language="en"))
    response = client.get(f"/api/v1/sites/{site.key}/consents/{first['consent_id']}", headers={"X-Cookiegate-Token": first["token"]})
    assert response.status_code == 200
    proof = response.get_json()
    assert proof["principal"]["id"] == first["consent_id"]
    assert [e["method"] for e in proof["events"]] == ["custom", "accept_all"]
    assert [e["type"] for e in proof["events"]] == ["given", "changed"]
    assert [e["language"] for e in proof["events"]] == ["da", "en"]
    assert proof["events"][0]["context"]["url"] == "https://shop.example.dk/"
    shown = {e["notice"] for e in proof["events"]}
    assert {n["hash"] for n in proof["notices"]} == shown and len(shown) == 2
    texts = {n["language"]: n["content"]["texts"]["accept_all"] for n in proof["notices"]}
    assert texts == {"da": "Accepter alle", "en": "Accept all"}
    assert response.headers["Cache-Control"] == "no-store"


def test_proof_needs_the_visitors_own_token(client, site):
    mine = post_consent(client, site.key).get_json()
    theirs = post_consent(client, site.key).get_json()
    url = f"/api/v1/sites/{site.key}/consents/{mine['consent_id']}"
    assert client.get(url).status_code == 401
    assert client.get(url, query_string={"token": theirs["token"]}).get_json()["error"]["code"] == "forbidden"
    assert client.get(url, query_string={"token": mine["token"]}).status_code == 200


def test_withdrawal_records_refusal_and_revokes_earlier_tokens(client, site):
    given = post_consent(client, site.key, consent_body(method="accept_all", choices=None)).get_json()
    response = withdraw(client, site.key, given["consent_id"], given["token"])
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["consent_id"] == given["consent_id"]
    assert answer["method"] == "withdraw"
    assert answer["choices"] == {"necessary": True, "statistics": False, "marketing": False}
    records = db.session.execute(select(ConsentRecord).order_by(ConsentRecord.seq)).scalars().all()
    assert [r.method for r in records] == ["accept_all", "withdraw"]
    revocation = db.session.execute(select(ConsentRevocation)).scalar_one()
    assert revocation.consent_hash == consent_hash(given["consent_id"]) and revocation.reason == "withdraw"
    assert revocation.revoked_at == records[1].created_at


def test_withdrawal_with_the_token_in_a_header_from_a_site_back_end(client, site):
    given = post_consent(client, site.key).get_json()
    response = client.post(
        f"/api/v1/sites/{site.key}/consents/{given['consent_id']}/withdraw", headers={"X-Cookiegate-Token": given["token"]}
    )
    assert response.status_code == 201


def test_withdrawal_from_a_foreign_origin_is_refused(client, site):
    given = post_consent(client, site.key).get_json()
    response = withdraw(client, site.key, given["consent_id"], given["token"], headers={"Origin": "https://evil.example.com"})
    assert response.status_code == 403
    assert len(db.session.execute(select(ConsentRecord)).scalars().all()) == 1


def test_withdrawal_needs_the_token_of_that_consent(client, site):
    mine = post_consent(client, site.key).get_json()
    theirs = post_consent(client, site.key).get_json()
    response = withdraw(client, site.key, mine["consent_id"], theirs["token"])
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    other = make_site(["https://other.example.dk"])
    foreign = post_consent(client, other.key, origin="https://other.example.dk").get_json()
    response = withdraw(client, site.key, foreign["consent_id"], foreign["token"])
    assert response.status_code == 401


def test_withdrawal_retry_with_the_same_key_is_stored_once(client, site):
    given = post_consent(client, site.key).get_json()
    headers = dict(ORIGIN, **{"Idempotency-Key": "withdraw-1"})
    first = withdraw(client, site.key, given["consent_id"], given["token"], headers=headers)
    second = withdraw(client, site.key, given["consent_id"], given["token"], headers=headers)
    assert first.get_json() == second.get_json()
    methods = db.session.execute(select(ConsentRecord.method)).scalars().all()
    assert sorted(methods) == ["custom", "withdraw"]


def test_an_expired_or_outdated_token_can_still_withdraw(client, site, runner):
    given = post_consent(client, site.key).get_json()
    runner.invoke(args=["cookiegate", "bump-policy", site.key])
    response = withdraw(client, site.key, given["consent_id"], given["token"])
    assert response.status_code == 201
    assert response.get_json()["policy_version"] == 2
