"""GET /decision: verified without a database read, failing closed, consistent across processes."""
from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import event

from cookiegate.extensions import db
from cookiegate.infra.signing import ConsentToken, TokenSigner, signer
from cookiegate.models import Category

from .conftest import TEST_KEYS
from .support import consent_body, make_site, post_consent, wait_until

DENIED_EXCEPT_NECESSARY = {
    "ad_storage": "denied",
    "ad_user_data": "denied",
    "ad_personalization": "denied",
    "analytics_storage": "denied",
    "functionality_storage": "granted",
    "personalization_storage": "denied",
    "security_storage": "granted",
}


def decision(client, site_key, token=None, via="query"):
    if token is None:
        return client.get(f"/api/v1/sites/{site_key}/decision").get_json()
    if via == "query":
        return client.get(f"/api/v1/sites/{site_key}/decision", query_string={"token": token}).get_json()
    if via == "header":
        return client.get(f"/api/v1/sites/{site_key}/decision", headers={"X-Cookiegate-Token": token}).get_json()
    client.set_cookie("cookiegate", token)
    try:
        return client.get(f"/api/v1/sites/{site_key}/decision").get_json()
    finally:
        client.delete_cookie("cookiegate")


def assert_closed(answer, status):
    assert answer["status"] == status
    assert answer["show_banner"] is True
    assert answer["consent_id"] is None
    assert answer["choices"] == {"necessary": True, "statistics": False, "marketing": False}
    assert answer["tags"] == {"google_analytics": False, "facebook_pixel": False}
    assert answer["consent_mode"] == DENIED_EXCEPT_NECESSARY


def test_no_token_fails_closed(client, site):
    assert_closed(decision(client, site.key), "none")


@pytest.mark.parametrize("via", ["query", "header", "cookie"])
def test_given_consent_opens_exactly_the_granted_tags(client, site, via):
    token = post_consent(client, site.key).get_json()["token"]
    answer = decision(client, site.key, token, via)
    assert answer["status"] == "given" and answer["show_banner"] is False
    assert answer["choices"] == {"necessary": True, "statistics": True, "marketing": False}
    assert answer["tags"] == {"google_analytics": True, "facebook_pixel": False}
    assert answer["consent_mode"] == dict(DENIED_EXCEPT_NECESSARY, analytics_storage="granted")


def test_marketing_grants_the_three_ad_signals(client, site):
    token = post_consent(client, site.key, consent_body(choices={"statistics": False, "marketing": True})).get_json()["token"]
    mode = decision(client, site.key, token)["consent_mode"]
    assert mode == dict(DENIED_EXCEPT_NECESSARY, ad_storage="granted", ad_user_data="granted", ad_personalization="granted")


def test_preferences_category_grants_personalization_storage(client, app):
    site = make_site(["https://shop.example.dk"])
    site.categories.append(Category(slug="preferences", required=False, position=3, texts={}))
    db.session.commit()
    token = post_consent(client, site.key, consent_body(choices={"preferences": True})).get_json()["token"]
    answer = decision(client, site.key, token)
    assert answer["choices"]["preferences"] is True
    assert answer["consent_mode"]["personalization_storage"] == "granted"
    assert answer["consent_mode"]["analytics_storage"] == "denied"


def test_forged_and_foreign_tokens_are_invalid(client, site):
    real = post_consent(client, site.key).get_json()["token"]
    payload, signature = real.rsplit(".", 1)
    tampered = payload.replace(payload[5], "A" if payload[5] != "A" else "B", 1) + "." + signature
    assert_closed(decision(client, site.key, tampered), "invalid")
    assert_closed(decision(client, site.key, payload + "." + signature[::-1]), "invalid")
    stranger = TokenSigner(["a key we never configured " + "z" * 20]).sign(
        ConsentToken("f" * 32, site.key, 1, frozenset({"statistics", "marketing"}), int(time.time() * 1000))
    )
    assert_closed(decision(client, site.key, stranger), "invalid")
    other = make_site(["https://other.example.dk"])
    foreign = post_consent(client, other.key, origin="https://other.example.dk").get_json()["token"]
    assert_closed(decision(client, site.key, foreign), "invalid")


def test_expired_consent_fails_closed(client, site):
    issued = int(time.time() * 1000) - 366 * 86_400_000
    token = signer().sign(ConsentToken("e" * 32, site.key, 1, frozenset({"statistics"}), issued))
    assert_closed(decision(client, site.key, token), "expired")
    fresh = signer().sign(ConsentToken("e" * 32, site.key, 1, frozenset({"statistics"}), issued + 2 * 86_400_000))
    assert decision(client, site.key, fresh)["status"] == "given"


def test_old_key_still_verifies_after_rotation_and_new_tokens_use_the_newest(client, site):
    old_only = TokenSigner(TEST_KEYS[:1])
    issued = int(time.time() * 1000)
    old_token = old_only.sign(ConsentToken("a" * 32, site.key, 1, frozenset({"statistics"}), issued))
    assert decision(client, site.key, old_token)["status"] == "given"
    new_token = post_consent(client, site.key).get_json()["token"]
    assert TokenSigner(TEST_KEYS[1:]).verify(new_token) is not None
    assert old_only.verify(new_token) is None


def test_decision_reads_nothing_from_the_database(client, site):
    token = post_consent(client, site.key).get_json()["token"]
    decision(client, site.key, token)  # warm this process's site and withdrawal state
    statements = []

    def count(*args, **kwargs):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for via in ("query", "header", "cookie"):
            assert decision(client, site.key, token, via)["status"] == "given"
        assert decision(client, site.key)["status"] == "none"
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []


def test_policy_bump_reaches_every_process_within_the_refresh_interval(make_app, app, site):
    other_process = make_app(COOKIEGATE_STATE_TTL=1).test_client()
    here = app.test_client()
    token = post_consent(here, site.key).get_json()["token"]
    assert decision(other_process, site.key, token)["status"] == "given"
    result = app.test_cli_runner().invoke(args=["cookiegate", "bump-policy", site.key])
    assert result.exit_code == 0, result.output
    # Within the refresh interval (1 s here), with room for a loaded machine.
    answer = wait_until(lambda: (a := decision(other_process, site.key, token))["status"] == "outdated" and a, timeout=3,
                        message="the other process still answers from before the bump")
    assert answer["policy_version"] == 2
    assert_closed(answer, "outdated")


def test_withdrawal_reaches_every_process_within_the_refresh_interval(make_app, app, site):
    other_process = make_app(COOKIEGATE_STATE_TTL=1).test_client()
    here = app.test_client()
    answer = post_consent(here, site.key).get_json()
    assert decision(other_process, site.key, answer["token"])["status"] == "given"
    withdrawn = here.post(
        f"/api/v1/sites/{site.key}/consents/{answer['consent_id']}/withdraw",
        data=json.dumps({"token": answer["token"]}),
        headers={"Origin": "https://shop.example.dk"},
    )
    assert withdrawn.status_code == 201
    # The process that recorded it knows at once.
    assert_closed(decision(here, site.key, answer["token"]), "withdrawn")
    wait_until(lambda: decision(other_process, site.key, answer["token"])["status"] == "withdrawn", timeout=3,
               message="the other process still answers from before the withdrawal")
    assert_closed(decision(other_process, site.key, answer["token"]), "withdrawn")
    assert_closed(decision(other_process, site.key, withdrawn.get_json()["token"]), "withdrawn")


def test_consent_given_again_after_withdrawal_counts(client, site):
    first = post_consent(client, site.key).get_json()
    withdrawn = client.post(
        f"/api/v1/sites/{site.key}/consents/{first['consent_id']}/withdraw",
        data=json.dumps({"token": first["token"]}),
        headers={"Origin": "https://shop.example.dk"},
    ).get_json()
    time.sleep(0.005)
    again = post_consent(client, site.key, consent_body(token=withdrawn["token"], method="accept_all", choices=None)).get_json()
    assert again["consent_id"] == first["consent_id"]
    assert decision(client, site.key, again["token"])["status"] == "given"
    assert decision(client, site.key, first["token"])["status"] == "withdrawn"


def test_state_refresh_interval_cannot_exceed_a_minute(make_app):
    from cookiegate.config import ConfigError

    with pytest.raises(ConfigError):
        make_app(COOKIEGATE_STATE_TTL=61)
    assert make_app().config["COOKIEGATE_STATE_TTL"] <= 60


def test_decision_is_never_cached_by_browsers_or_proxies(client, site):
    response = client.get(f"/api/v1/sites/{site.key}/decision")
    assert response.headers["Cache-Control"] == "no-store"


def test_clock_skew_between_servers_cannot_keep_a_fresh_consent_withdrawn(make_app, app, site, monkeypatch):
    """The withdrawal is stamped by a server 2 s ahead; a consent given right after on another still counts."""
    import datetime as dt

    from cookiegate import consents
    from cookiegate.models import utcnow

    fast_server = app.test_client()
    other_server = make_app(COOKIEGATE_STATE_TTL=0).test_client()
    first = post_consent(other_server, site.key).get_json()
    monkeypatch.setattr(consents, "utcnow", lambda: utcnow() + dt.timedelta(seconds=2))
    withdrawn = fast_server.post(
        f"/api/v1/sites/{site.key}/consents/{first['consent_id']}/withdraw",
        data=json.dumps({"token": first["token"]}),
        headers={"Origin": "https://shop.example.dk"},
    ).get_json()
    monkeypatch.undo()
    again = post_consent(other_server, site.key, consent_body(token=withdrawn["token"], method="accept_all", choices=None)).get_json()
    assert again["consent_id"] == first["consent_id"]
    assert decision(other_server, site.key, again["token"])["status"] == "given"
    assert decision(fast_server, site.key, again["token"])["status"] == "given"
    assert decision(other_server, site.key, first["token"])["status"] == "withdrawn"


def test_the_revocation_list_keeps_only_what_an_unexpired_token_could_need(app, site):
    import datetime as dt

    from cookiegate.infra.signing import consent_hash
    from cookiegate.models import ConsentRevocation, utcnow
    from cookiegate.sites.cache import Revocations

    now = utcnow()
    for i, age in enumerate((400, 366, 364, 0)):  # days; the site's consents live 365
        db.session.add(ConsentRevocation(site_id=site.id, consent_hash=consent_hash(f"c{i}"), revoked_at=now - dt.timedelta(days=age), reason="withdraw", up_to_seq=i))
    db.session.commit()
    revocations = Revocations(ttl=0)
    revocations.note("ancient", 1, now - dt.timedelta(days=500))  # noted by this process long ago
    assert revocations.revoked("c3") == (3, revocations.revoked("c3")[1])
    assert len(revocations) == 2
    assert revocations.revoked("c0") is None and revocations.revoked("ancient") is None


def test_verified_tokens_are_remembered_boundedly_and_a_forged_one_never_is():
    from cookiegate.infra.signing import ConsentToken, TokenSigner

    signer = TokenSigner(["k" * 40])
    signer.VERIFIED_CACHE_SIZE = 3

    def token(i):
        return signer.sign(ConsentToken(consent_id=f"{i:032x}", site_key="s" * 16, policy_version=1,
                                        granted=frozenset({"statistics"}), issued_ms=1, withdrawn=False, seq=i))

    raw = token(1)
    assert signer.verify(raw) == signer.verify(raw) and signer.verify(raw).seq == 1
    forged = raw[:-2] + ("AA" if not raw.endswith("AA") else "BB")
    assert signer.verify(forged) is None and forged not in signer._verified
    for i in range(2, 10):
        assert signer.verify(token(i)).seq == i
        assert len(signer._verified) <= 3
    assert TokenSigner(["other-key" * 5]).verify(raw) is None  # another key's signer has its own memory
