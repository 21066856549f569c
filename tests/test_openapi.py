"""/api/v1/openapi.json is the contract: real answers of every status are checked against the served
description, and schemathesis sends every operation it describes (stats included) a bounded number of
generated requests (no 5xx, every answer as described)."""
from __future__ import annotations

import json
import os
import re
import sqlite3

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from referencing import Registry, Resource
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .support import consent_body, post_consent
from .web_support import make_token, make_user

ORIGIN = "https://shop.example.dk"


@pytest.fixture
def spec(client) -> dict:
    """The description as the app serves it."""
    return client.get("/api/v1/openapi.json").get_json()


def _operation(spec: dict, path: str, method: str) -> tuple[str, dict]:
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the API description")


def conforms(spec: dict, response, path: str, method: str = "GET") -> dict:
    """Assert that the answer's status, headers and body are what the description says; return the body."""
    template, operation = _operation(spec, path.split("?")[0], method)
    documented = operation["responses"]
    status = str(response.status_code)
    assert status in documented, f"{method} {template} answered {status}, which is not documented ({sorted(documented)})"
    answer = documented[status]
    for name, header in answer.get("headers", {}).items():
        value = response.headers.get(name)
        if header.get("required"):
            assert value is not None, f"{method} {template} {status}: header {name} missing"
        if value is not None:
            jsonschema.validate(value, header["schema"])
    content = answer.get("content", {}).get("application/json")
    body = None
    if content is not None:
        assert response.mimetype == "application/json", f"{method} {template} {status}: {response.mimetype}"
        body = response.get_json()
        # References point into the description (the registry's "urn:spec").
        registry = Registry().with_resource("urn:spec", Resource.from_contents({**spec, "$schema": "https://json-schema.org/draft/2020-12/schema"}))
        schema = json.loads(json.dumps(content["schema"]).replace('"#/components/', '"urn:spec#/components/'))
        jsonschema.Draft202012Validator(schema, registry=registry).validate(body)
    return body


def test_the_description_is_built_from_the_routes_of_each_app(app, make_app, spec):
    # Nothing is merged into a module-level dict: a second app describes exactly the same, and every
    # operation described is one the app routes.
    assert make_app().test_client().get("/api/v1/openapi.json").get_json() == spec
    adapter = app.url_map.bind("localhost")
    for path, item in spec["paths"].items():
        concrete = path.replace("{site_key}", "abc").replace("{consent_id}", "0" * 32)
        for method in item:
            if method != "parameters":
                adapter.match(concrete, method=method.upper())  # raises when the app has no such route


def test_every_answer_of_the_consent_path_is_described(client, site, make_app, runner, spec):
    base = f"/api/v1/sites/{site.key}"
    config = client.get(f"{base}/config?lang=en")
    conforms(spec, config, f"{base}/config")
    conforms(spec, client.get(f"{base}/config", headers={"If-None-Match": config.headers["ETag"]}), f"{base}/config")
    conforms(spec, client.get(f"{base}/config?lang=<x>"), f"{base}/config")
    conforms(spec, client.get("/api/v1/sites/nosuchsite/config"), "/api/v1/sites/x/config")

    given = conforms(spec, post_consent(client, site.key, headers={"Idempotency-Key": "k1"}), f"{base}/consents", "POST")
    replayed = post_consent(client, site.key, headers={"Idempotency-Key": "k1"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    conforms(spec, replayed, f"{base}/consents", "POST")
    for response in (
        post_consent(client, site.key, raw=b"not json"),
        post_consent(client, site.key, origin="https://evil.example.com"),
        post_consent(client, "nosuchsite"),
        post_consent(client, site.key, consent_body(policy_version=7)),
        post_consent(client, site.key, raw=b"{" + b" " * 5000 + b"}"),
        post_consent(client, site.key, consent_body(gpc="yes")),
        post_consent(client, site.key, consent_body(method="reject_all"), headers={"Idempotency-Key": "k1"}),
    ):
        conforms(spec, response, f"{base}/consents", "POST")
    limited = make_app(COOKIEGATE_RATELIMIT="1 per minute").test_client()
    post_consent(limited, site.key)
    too_many = post_consent(limited, site.key)
    assert too_many.status_code == 429
    conforms(spec, too_many, f"{base}/consents", "POST")

    token = {"X-Cookiegate-Token": given["token"]}
    assert conforms(spec, client.get(f"{base}/decision", headers=token), f"{base}/decision")["status"] == "given"
    conforms(spec, client.get(f"{base}/decision?token=forged"), f"{base}/decision")
    proof = f"{base}/consents/{given['consent_id']}"
    assert conforms(spec, client.get(proof, headers=token), proof)["events"]
    conforms(spec, client.get(proof), proof)
    conforms(spec, client.get(f"{base}/consents/{'0' * 32}", headers=token), proof)
    withdraw = f"{proof}/withdraw"
    conforms(spec, client.post(withdraw, data=json.dumps({"token": given["token"]}), headers={"Origin": ORIGIN}), withdraw, "POST")
    conforms(spec, client.post(withdraw, data=b"[]", headers={"Origin": ORIGIN}), withdraw, "POST")
    conforms(spec, client.post(withdraw, data=b"{}", headers={"Origin": ORIGIN}), withdraw, "POST")
    impressions = f"{base}/impressions"
    conforms(spec, client.post(impressions, headers={"Origin": ORIGIN}), impressions, "POST")
    conforms(spec, client.post(impressions, headers={"Origin": "https://evil.example.com"}), impressions, "POST")

    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Idempotency-Key"}
    for path in (f"{base}/consents", f"{base}/config", withdraw):
        assert conforms(spec, client.options(path, headers=preflight), path, "OPTIONS") is None
    refused = client.options(f"{base}/consents", headers=dict(preflight, Origin="https://evil.example.com"))
    assert refused.status_code == 403
    conforms(spec, refused, f"{base}/consents", "OPTIONS")
    conforms(spec, client.get("/healthz"), "/healthz")


@pytest.mark.skipif(bool(os.environ.get("COOKIEGATE_TEST_DATABASE_URL")), reason="the outage is made on SQLite (test_faults.py covers PostgreSQL)")
def test_outage_answers_are_described(make_app, app, site, tmp_path, spec):
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
            conforms(spec, response, where, method)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_null_is_refused_where_the_description_says_boolean_or_object(client, site, spec):
    properties = spec["components"]["schemas"]["ConsentRequest"]["properties"]
    assert properties["gpc"]["type"] == "boolean" and properties["choices"]["type"] == "object"
    for field in ("gpc", "choices"):
        response = post_consent(client, site.key, dict(consent_body(method="accept_all", choices=None), **{field: None}))
        assert response.status_code == 422, field


# --- schemathesis over the description -----------------------------------------------------------

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance, response_schema_conformance]


def test_generated_requests_get_described_answers_and_never_a_5xx(app, site):
    """Every operation of the served description (the stats endpoints too), 20 generated requests each."""
    token = make_token(make_user("stats@example.dk", role="admin"))
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/sites/{site_key}/stats", "/api/v1/sites/{site_key}/stats.csv"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
        def generated(case):
            # Aim most requests at the real site and its origin, so they get past 404 and 403.
            if "site_key" in (case.path_parameters or {}):
                case.path_parameters["site_key"] = site.key
            if case.headers is not None and "Origin" in case.headers:
                case.headers["Origin"] = ORIGIN
            # identity: the in-process client does not undo the gzip or br a browser would get.
            case.call_and_validate(app=app, checks=CHECKS, headers={"Accept-Encoding": "identity", "Authorization": f"Bearer {token}"})

        generated()
