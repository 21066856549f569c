"""POST /consents: recording a choice, idempotent retries, and the proof it leaves."""
from __future__ import annotations

import datetime as dt
import json
import re

from sqlalchemy import func, select

from cookiegate.extensions import db
from cookiegate.models import BannerSnapshot, ConsentRecord, Site
from cookiegate.sites.banner_config import content_hash

from .support import chained, consent_body, database_text, post_consent


def count_records() -> int:
    return db.session.execute(select(func.count()).select_from(ConsentRecord)).scalar_one()


def test_consent_is_recorded_and_answered_with_a_signed_token(client, site):
    response = post_consent(client, site.key)
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["choices"] == {"necessary": True, "statistics": True, "marketing": False}
    assert answer["policy_version"] == 1
    assert re.fullmatch(r"[0-9a-f]{32}", answer["consent_id"])
    recorded = dt.datetime.fromisoformat(answer["recorded_at"].replace("Z", "+00:00"))
    expires = dt.datetime.fromisoformat(answer["expires_at"].replace("Z", "+00:00"))
    assert expires - recorded == dt.timedelta(days=365)
    record = db.session.execute(select(ConsentRecord)).scalar_one()
    assert record.consent_id == answer["consent_id"]
    assert record.method == "custom" and record.language == "da" and record.gpc is False
    assert record.choices == answer["choices"]
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example.dk"


def test_page_url_is_kept_without_query_string_fragment_or_credentials(client, site):
    post_consent(client, site.key, consent_body(url="https://user:pw@Shop.example.dk:443/kurv/betal?email=a@b.dk#top"))
    record = db.session.execute(select(ConsentRecord)).scalar_one()
    assert record.page_url == "https://shop.example.dk:443/kurv/betal"


def test_necessary_is_always_recorded_as_granted(client, site):
    response = post_consent(client, site.key, consent_body(choices={"necessary": False, "statistics": False}))
    assert response.status_code == 201
    assert response.get_json()["choices"] == {"necessary": True, "statistics": False, "marketing": False}


def test_accept_all_and_reject_all_fill_in_every_category(client, site):
    accepted = post_consent(client, site.key, consent_body(method="accept_all", choices=None)).get_json()
    rejected = post_consent(client, site.key, consent_body(method="reject_all", choices={})).get_json()
    assert accepted["choices"] == {"necessary": True, "statistics": True, "marketing": True}
    assert rejected["choices"] == {"necessary": True, "statistics": False, "marketing": False}


def test_choices_that_contradict_the_method_are_refused(client, site):
    response = post_consent(client, site.key, consent_body(method="reject_all", choices={"marketing": True}))
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_choices"
    assert count_records() == 0


def test_record_carries_a_hash_chain_and_the_banner_it_was_given_against(client, site):
    first = post_consent(client, site.key).get_json()
    post_consent(client, site.key, consent_body(method="accept_all", choices=None))
    records = db.session.execute(select(ConsentRecord).order_by(ConsentRecord.seq)).scalars().all()
    assert [r.seq for r in records] == [1, 2]
    assert chained(records, site.key)
    head = db.session.get(Site, site.id)
    db.session.refresh(head)
    assert head.log_head == records[1].chain_hash and head.log_seq == 2
    snapshot = db.session.get(BannerSnapshot, records[0].banner_hash)
    assert snapshot is not None and snapshot.content["texts"]["accept_all"] == "Accepter alle"
    config = client.get(f"/api/v1/sites/{site.key}/config?lang=da").get_json()
    assert records[0].banner_hash == content_hash(config)
    assert snapshot.content == config
    assert first["consent_id"] == records[0].consent_id


def test_idempotent_retry_returns_the_first_answer_and_stores_nothing_twice(client, site):
    headers = {"Idempotency-Key": "retry-123"}
    first = post_consent(client, site.key, headers=headers)
    second = post_consent(client, site.key, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count_records() == 1


def test_idempotency_key_in_the_body_keeps_the_request_simple(client, site):
    body = consent_body(idempotency_key="body-key-1")
    first = post_consent(client, site.key, body)
    second = post_consent(client, site.key, body)
    assert first.get_json() == second.get_json()
    assert count_records() == 1
    assert "body-key-1" not in database_text()


def test_same_idempotency_key_on_another_site_is_independent(client, site):
    from .support import make_site

    other = make_site(["https://other.example.dk"])
    headers = {"Idempotency-Key": "shared"}
    a = post_consent(client, site.key, headers=headers).get_json()
    b = post_consent(client, other.key, origin="https://other.example.dk", headers=headers).get_json()
    assert a["consent_id"] != b["consent_id"]
    assert count_records() == 2


def test_previous_token_keeps_the_visitors_consent_id(client, site):
    first = post_consent(client, site.key).get_json()
    second = post_consent(client, site.key, consent_body(method="accept_all", choices=None, token=first["token"])).get_json()
    assert second["consent_id"] == first["consent_id"]
    assert count_records() == 2


def test_previous_token_of_another_site_starts_a_new_consent_id(client, site):
    from .support import make_site

    other = make_site(["https://other.example.dk"])
    foreign = post_consent(client, other.key, origin="https://other.example.dk").get_json()
    mine = post_consent(client, site.key, consent_body(token=foreign["token"])).get_json()
    assert mine["consent_id"] != foreign["consent_id"]


def test_stale_policy_version_is_refused_with_the_current_one(client, site, runner):
    # The process has the site cached at version 1; the database decides, not the cache.
    assert client.get(f"/api/v1/sites/{site.key}/config").get_json()["policy_version"] == 1
    result = runner.invoke(args=["cookiegate", "bump-policy", site.key])
    assert result.exit_code == 0, result.output
    response = post_consent(client, site.key, consent_body(policy_version=1))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "policy_version_changed" and error["policy_version"] == 2
    assert count_records() == 0
    # The site's chain did not move either: nothing half-written.
    refreshed = db.session.execute(select(Site.log_seq).where(Site.id == site.id)).scalar_one()
    assert refreshed == 0
    assert post_consent(client, site.key, consent_body(policy_version=2)).status_code == 201


def test_concurrent_apps_share_one_chain(make_app, app, site):
    """Two processes (two apps) appending to the same site keep one gap-free chain."""
    other = make_app().test_client()
    here = app.test_client()
    for i in range(6):
        assert post_consent(here if i % 2 else other, site.key).status_code == 201
    records = db.session.execute(select(ConsentRecord).order_by(ConsentRecord.seq)).scalars().all()
    assert [r.seq for r in records] == list(range(1, 7))
    assert chained(records, site.key)


def test_consent_answer_is_not_cached(client, site):
    response = post_consent(client, site.key)
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.data)["token"]
