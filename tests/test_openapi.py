"""/api/v1/openapi.json is the contract: real answers of every status are checked against it, and
schemathesis sends it a bounded number of generated requests (no 5xx, every answer as described)."""
from __future__ import annotations

import json
import os
import re
import sqlite3

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from referencing import Registry, Resource
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cookiegate.api.openapi import SPEC

from .support import consent_body, post_consent

ORIGIN = "https://shop.example.dk"
# The description as a resource, so "#/components/schemas/..." references resolve against it.
REGISTRY = Registry().with_resource("urn:spec", Resource.from_contents({**SPEC, "$schema": "https://json-schema.org/draft/2020-12/schema"}))


def _operation(path: str, method: str) -> tuple[str, dict]:
    for template, item in SPEC["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the API description")


def conforms(response, path: str, method: str = "GET") -> dict:
    """Assert that the answer's status, headers and body are what the description says; return the body."""
    template, operation = _operation(path.split("?")[0], method)
    documented = operation["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method} {template} answered {status}, which is not documented ({sorted(documented)})"
    spec = documented[status]
    for name, header in spec.get("headers", {}).items():
        value = response.headers.get(name)
        if header.get("required"):
            assert value is not None, f"{method} {template} {status}: header {name} missing"
        if value is not None:
            jsonschema.validate(value, header["schema"])
    content = spec.get("content", {}).get("application/json")
    body = None
    if content is not None:
        assert response.mimetype == "application/json", f"{method} {template} {status}: {response.mimetype}"
        body = response.get_json()
        # References point into the description (the registry's "urn:spec").
        schema = json.loads(json.dumps(content["schema"]).replace('"#/components/', '"urn:spec#/components/'))
        jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate(body)
    return body


def test_every_answer_of_the_consent_path_is_described(client, site, make_app, runner):
    base = f"/api/v1/sites/{site.key}"
    config = client.get(f"{base}/config?lang=en")
    conforms(config, f"{base}/config")
    conforms(client.get(f"{base}/config", headers={"If-None-Match": config.headers["ETag"]}), f"{base}/config")
    conforms(client.get(f"{base}/config?lang=<x>"), f"{base}/config")
    conforms(client.get("/api/v1/sites/nosuchsite/config"), "/api/v1/sites/x/config")

    given = conforms(post_consent(client, site.key, headers={"Idempotency-Key": "k1"}), f"{base}/consents", "POST")
    replayed = post_consent(client, site.key, headers={"Idempotency-Key": "k1"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    conforms(replayed, f"{base}/consents", "POST")
    for response in (
        post_consent(client, site.key, raw=b"not json"),
        post_consent(client, site.key, origin="https://evil.example.com"),
        post_consent(client, "nosuchsite"),
        post_consent(client, site.key, consent_body(policy_version=7)),
        post_consent(client, site.key, raw=b"{" + b" " * 5000 + b"}"),
        post_consent(client, site.key, consent_body(gpc="yes")),
        post_consent(client, site.key, consent_body(method="reject_all"), headers={"Idempotency-Key": "k1"}),
    ):
        conforms(response, f"{base}/consents", "POST")
    limited = make_app(COOKIEGATE_RATELIMIT="1 per minute").test_client()
    post_consent(limited, site.key)
    too_many = post_consent(limited, site.key)
    assert too_many.status_code == 429
    conforms(too_many, f"{base}/consents", "POST")

    token = {"X-Cookiegate-Token": given["token"]}
    assert conforms(client.get(f"{base}/decision", headers=token), f"{base}/decision")["status"] == "given"
    conforms(client.get(f"{base}/decision?token=forged"), f"{base}/decision")
    proof = f"{base}/consents/{given['consent_id']}"
    assert conforms(client.get(proof, headers=token), proof)["events"]
    conforms(client.get(proof), proof)
    conforms(client.get(f"{base}/consents/{'0' * 32}", headers=token), proof)
    withdraw = f"{proof}/withdraw"
    conforms(client.post(withdraw, data=json.dumps({"token": given["token"]}), headers={"Origin": ORIGIN}), withdraw, "POST")
    conforms(client.post(withdraw, data=b"[]", headers={"Origin": ORIGIN}), withdraw, "POST")
    conforms(client.post(withdraw, data=b"{}", headers={"Origin": ORIGIN}), withdraw, "POST")
    impressions = f"{base}/impressions"
    conforms(client.post(impressions, headers={"Origin": ORIGIN}), impressions, "POST")
    conforms(client.post(impressions, headers={"Origin": "https://evil.example.com"}), impressions, "POST")

    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Idempotency-Key"}
    for path in (f"{base}/consents", f"{base}/config", withdraw):
        assert conforms(client.options(path, headers=preflight), path, "OPTIONS") is None
    refused = client.options(f"{base}/consents", headers=dict(preflight, Origin="https://evil.example.com"))
    assert refused.status_code == 403
    conforms(refused, f"{base}/consents", "OPTIONS")
    conforms(client.get("/healthz"), "/healthz")


@pytest.mark.skipif(bool(os.environ.get("COOKIEGATE_TEST_DATABASE_URL")), reason="the outage is made on SQLite (test_faults.py covers PostgreSQL)")
def test_outage_answers_are_described(make_app, app, site, tmp_path):
    from cookiegate.extensions import db

    path = db.engine.url.database
    outage_app = make_app(COOKIEGATE_DB_TIMEOUT=0.2)
    client = outage_app.test_client()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        base = f"/api/v1/sites/{site.key}"
        for response, where, method in (
            (post_consent(client, site.key), f"{base}/consents", "POST"),
            (client.post(f"{base}/impressions", headers={"Origin": ORIGIN}), f"{base}/impressions", "POST"),
            (client.get("/healthz"), "/healthz", "GET"),
        ):
            assert response.status_code == 503
            conforms(response, where, method)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_null_is_refused_where_the_description_says_boolean_or_object(client, site):
    properties = SPEC["components"]["schemas"]["ConsentRequest"]["properties"]
    assert properties["gpc"]["type"] == "boolean" and properties["choices"]["type"] == "object"
    for field in ("gpc", "choices"):
        response = post_consent(client, site.key, dict(consent_body(method="accept_all", choices=None), **{field: None}))
        assert response.status_code == 422, field


# --- schemathesis over the description -----------------------------------------------------------

schema = schemathesis.openapi.from_dict(SPEC)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_generated_requests_get_described_answers_and_never_a_5xx(case, app, site):
    # Aim most requests at the real site and its origin, so they get past 404 and 403.
    if "site_key" in (case.path_parameters or {}):
        case.path_parameters["site_key"] = site.key
    if case.headers is not None and "Origin" in case.headers:
        case.headers["Origin"] = ORIGIN
    # identity: the in-process client does not undo the gzip or br a browser would get.
    case.call_and_validate(app=app, checks=CHECKS, headers={"Accept-Encoding": "identity"})
