"""export / the visitor's GET …/consents/<id>: one consent receipt after ISO/IEC TS 27560;
and the audit trail the data-protection chores leave."""
from __future__ import annotations

import json

import jsonschema
from sqlalchemy import select

from cookiegate import audit_trail
from cookiegate.extensions import db
from cookiegate.models import ApiToken, AuditEvent
from cookiegate.proof.checkpoints import parse_line
from cookiegate.proof.keys import checkpoint_keys
from cookiegate.proof.receipt import RECEIPT_SCHEMA

from .support import consent_body, post_consent


def run(runner, *args, **kwargs):
    return runner.invoke(args=["cookiegate", *args], **kwargs)


def withdraw(client, site, answer):
    return client.post(f"/api/v1/sites/{site.key}/consents/{answer['consent_id']}/withdraw",
                       data=json.dumps({"token": answer["token"]}), headers={"Origin": "https://shop.example.dk"}).get_json()


def test_export_prints_a_receipt_with_events_purposes_notice_and_what_verifies_each(client, runner, site):
    first = post_consent(client, site.key, consent_body(url="https://shop.example.dk/kurv?id=7")).get_json()
    second = post_consent(client, site.key, consent_body(method="accept_all", choices=None, token=first["token"], language="en")).get_json()
    assert run(runner, "checkpoint").exit_code == 0
    withdraw(client, site, second)

    result = run(runner, "export", site.key, first["consent_id"])
    assert result.exit_code == 0, result.output
    receipt = json.loads(result.output)
    jsonschema.validate(receipt, RECEIPT_SCHEMA)
    assert receipt["principal"]["id"] == first["consent_id"]
    assert receipt["controller"]["site"] == site.key and receipt["controller"]["name"] == site.name
    assert receipt["record_id"] == f"urn:cookiegate:{site.key}:{first['consent_id']}"
    events = receipt["events"]
    assert [e["type"] for e in events] == ["given", "changed", "withdrawn"]
    assert [e["method"] for e in events] == ["custom", "accept_all", "withdraw"]
    assert events[0]["state"] == {"necessary": True, "statistics": True, "marketing": False}
    assert events[0]["context"]["url"] == "https://shop.example.dk/kurv"
    assert events[0]["validity"]["until"] > events[0]["validity"]["from"] and events[2]["validity"]["until"] is None
    assert receipt["state"]["status"] == "withdrawn"
    assert "withdraw" in receipt["withdrawal_method"]
    assert [p["category"] for p in receipt["purposes"]] == ["necessary", "statistics", "marketing"]
    statistics = next(p for p in receipt["purposes"] if p["category"] == "statistics")
    assert [s["key"] for s in statistics["services"]] == ["google_analytics"]
    assert {n["language"] for n in receipt["notices"]} == {"da", "en"}
    assert all(n["content"]["texts"] for n in receipt["notices"])
    # The first two events are covered by the checkpoint; the withdrawal came after it.
    line = events[0]["proof"]["checkpoint"]
    assert line and events[1]["proof"]["checkpoint"] == line and events[2]["proof"]["checkpoint"] is None
    checkpoint = parse_line(line)
    assert checkpoint.seq == 2 and checkpoint.head == events[1]["proof"]["chain_hash"]
    assert checkpoint.problem(checkpoint_keys()) is None
    assert receipt["verification"]["public_keys"]


def test_the_visitors_own_proof_is_the_same_receipt(client, runner, site):
    given = post_consent(client, site.key).get_json()
    exported = json.loads(run(runner, "export", site.key, given["consent_id"]).output)
    response = client.get(f"/api/v1/sites/{site.key}/consents/{given['consent_id']}", headers={"X-Cookiegate-Token": given["token"]})
    assert response.status_code == 200
    served = response.get_json()
    jsonschema.validate(served, RECEIPT_SCHEMA)
    exported.pop("generated_at"), served.pop("generated_at")
    assert served == exported


def test_the_openapi_description_carries_the_receipt_schema(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    answer = spec["paths"]["/api/v1/sites/{site_key}/consents/{consent_id}"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ConsentReceipt"}
    assert spec["components"]["schemas"]["ConsentReceipt"]["properties"]["events"]["items"]["properties"]["type"]["enum"] == [
        "given", "changed", "withdrawn"]


def test_export_of_an_unknown_consent_fails_and_export_is_audited_without_the_id(client, runner, site):
    assert run(runner, "export", site.key, "0" * 32).exit_code != 0
    given = post_consent(client, site.key).get_json()
    assert run(runner, "export", site.key, given["consent_id"]).exit_code == 0
    entry = audit_trail.entries(action="consent.export")[0]
    assert given["consent_id"] not in json.dumps(entry.details) and entry.site_id == site.id


def test_user_token_and_policy_changes_leave_audit_entries_with_before_and_after(runner, site):
    run(runner, "create-user", "m@example.dk", "--role", "marketer", "--site", site.key, "--password-stdin", input="long enough pw\n")
    token = run(runner, "create-token", "m@example.dk").output.strip().splitlines()[-1]
    assert run(runner, "bump-policy", site.key).exit_code == 0
    result = run(runner, "revoke-token", token[:10])
    assert result.exit_code == 0 and "Revoked 1 token" in result.output
    assert db.session.execute(select(ApiToken.revoked)).scalar_one() is True
    actions = [e.action for e in reversed(audit_trail.entries())]
    assert actions == ["site.create", "user.create", "token.create", "site.bump_policy", "token.revoke"]
    bump = audit_trail.entries(action="site.bump_policy")[0]
    assert bump.details == {"policy_version": 2, "before": {"policy_version": 1}, "after": {"policy_version": 2}}
    assert bump.site_id == site.id and bump.actor.startswith("cli")
    everything = json.dumps([e.details for e in db.session.execute(select(AuditEvent)).scalars()])
    assert token not in everything and "long enough pw" not in everything


def test_audit_trail_record_keeps_before_after_and_details_in_the_callers_transaction(site):
    audit_trail.record("admin@example.dk", "site.rename", site=site, before={"name": "A"}, after={"name": "B"}, reason="typo")
    db.session.rollback()
    assert audit_trail.entries(action="site.rename") == []
    audit_trail.record("admin@example.dk", "site.rename", site=site.id, before={"name": "A"}, after={"name": "B"}, reason="typo")
    db.session.commit()
    (entry,) = audit_trail.entries(site=site, action="site.rename")
    assert entry.details == {"reason": "typo", "before": {"name": "A"}, "after": {"name": "B"}}
    assert entry.actor == "admin@example.dk" and entry.at is not None
