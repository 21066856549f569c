"""Whatever a client sends, the answer is a JSON error with the right code, never a 500,
and nothing is half-written."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord, ConsentRevocation, Site, StatsImpression

from .support import consent_body, post_consent


def stored_rows() -> tuple[int, int, int, int]:
    def count(model):
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()

    seq = db.session.execute(select(func.coalesce(func.sum(Site.log_seq), 0))).scalar_one()
    return count(ConsentRecord), count(ConsentRevocation), count(StatsImpression), seq


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


BAD_BODIES = [
    # (description, raw body, status, code)
    ("not json", b"choices=all", 400, "invalid_json"),
    ("empty body", b"", 400, "invalid_json"),
    ("json array", b"[1, 2]", 400, "invalid_json"),
    ("json string", b'"accept"', 400, "invalid_json"),
    ("NaN constant", b'{"policy_version": NaN, "method": "custom"}', 400, "invalid_json"),
    ("latin-1 bytes", json.dumps(consent_body(language="da")).encode().replace(b'"da"', b'"d\xe6"'), 400, "invalid_json"),
    ("utf-16", json.dumps(consent_body()).encode("utf-16"), 400, "invalid_json"),
    ("truncated json", json.dumps(consent_body()).encode()[:-5], 400, "invalid_json"),
    ("deeply nested", b"[" * 5000 + b"]" * 5000, 413, "payload_too_large"),
    ("unknown category", json.dumps(consent_body(choices={"statistics": True, "spying": True})).encode(), 422, "invalid_choices"),
    ("non-boolean choice", json.dumps(consent_body(choices={"statistics": "yes"})).encode(), 422, "invalid_choices"),
    ("number as choice", json.dumps(consent_body(choices={"statistics": 1})).encode(), 422, "invalid_choices"),
    ("null choice", json.dumps(consent_body(choices={"statistics": None})).encode(), 422, "invalid_choices"),
    ("choices is a list", json.dumps(consent_body(choices=["statistics"])).encode(), 422, "invalid_choices"),
    ("custom without choices", json.dumps(consent_body(choices=None)).encode(), 422, "invalid_choices"),
    ("choices null", json.dumps(dict(consent_body(method="accept_all"), choices=None)).encode(), 422, "invalid_choices"),
    ("gpc null", json.dumps(dict(consent_body(), gpc=None)).encode(), 422, "invalid_request"),
    ("url null", json.dumps(dict(consent_body(), url=None)).encode(), 422, "invalid_request"),
    ("language null", json.dumps(dict(consent_body(), language=None)).encode(), 422, "invalid_request"),
    ("token null", json.dumps(dict(consent_body(), token=None)).encode(), 422, "invalid_request"),
    ("missing method", json.dumps({k: v for k, v in consent_body().items() if k != "method"}).encode(), 422, "invalid_request"),
    ("unknown method", json.dumps(consent_body(method="withdraw")).encode(), 422, "invalid_request"),
    ("missing policy version", json.dumps({k: v for k, v in consent_body().items() if k != "policy_version"}).encode(), 422, "invalid_request"),
    ("policy version as string", json.dumps(consent_body(policy_version="1")).encode(), 422, "invalid_request"),
    ("policy version as float", json.dumps(consent_body(policy_version=1.0)).encode(), 422, "invalid_request"),
    ("policy version as bool", json.dumps(consent_body(policy_version=True)).encode(), 422, "invalid_request"),
    ("huge policy version", json.dumps(consent_body(policy_version=10**30)).encode(), 422, "invalid_request"),
    ("gpc as string", json.dumps(consent_body(gpc="false")).encode(), 422, "invalid_request"),
    ("url not http", json.dumps(consent_body(url="javascript:alert(1)")).encode(), 422, "invalid_request"),
    ("url with bad port", json.dumps(consent_body(url="https://shop.example.dk:99999/")).encode(), 422, "invalid_request"),
    ("url as number", json.dumps(consent_body(url=42)).encode(), 422, "invalid_request"),
    ("absurdly long url", json.dumps(consent_body(url="https://shop.example.dk/" + "a" * 5000)).encode(), 413, "payload_too_large"),
    ("long url under the body limit", json.dumps(consent_body(url="https://shop.example.dk/" + "a" * 2100)).encode(), 422, "invalid_request"),
    ("language with html", json.dumps(consent_body(language="<script>alert(1)</script>")).encode(), 422, "invalid_request"),
    ("language sql-ish", json.dumps(consent_body(language="da'; DROP TABLE consent_records;--")).encode(), 422, "invalid_request"),
    ("nul character", json.dumps(consent_body(url="https://shop.example.dk/\u0000")).encode(), 422, "invalid_request"),
    ("lone surrogate", json.dumps(consent_body(url="https://shop.example.dk/\ud800")).encode(), 422, "invalid_request"),
    ("category name sql-ish", json.dumps(consent_body(choices={"statistics'--": True})).encode(), 422, "invalid_choices"),
    ("idempotency key in body not a string", json.dumps(consent_body(idempotency_key=5)).encode(), 422, "invalid_request"),
    ("idempotency key with spaces", json.dumps(consent_body(idempotency_key="a b")).encode(), 422, "invalid_request"),
]


@pytest.mark.parametrize("description,raw,status,code", BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_consent_body_gets_a_clear_error_and_stores_nothing(client, site, description, raw, status, code):
    before = stored_rows()
    response = post_consent(client, site.key, raw=raw)
    assert_error(response, status, code)
    assert stored_rows() == before


def test_body_over_4_kib_is_refused_before_it_is_read(client, site):
    raw = json.dumps(consent_body(url="https://shop.example.dk/" + "x" * 4100)).encode()
    assert_error(post_consent(client, site.key, raw=raw), 413, "payload_too_large")
    assert stored_rows() == (0, 0, 0, 0)


def test_chunked_body_over_4_kib_is_refused_too(client, site):
    """No Content-Length (chunked, as gunicorn passes it on): the limit holds while reading."""
    raw = json.dumps(consent_body(url="https://shop.example.dk/" + "x" * 10_000)).encode()
    response = client.post(
        f"/api/v1/sites/{site.key}/consents",
        input_stream=io.BytesIO(raw),
        headers={"Origin": "https://shop.example.dk", "Transfer-Encoding": "chunked", "Content-Type": "text/plain"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_error(response, 413, "payload_too_large")
    assert stored_rows() == (0, 0, 0, 0)


def test_html_and_sql_in_the_url_path_are_stored_as_inert_text(client, site):
    url = "https://shop.example.dk/<script>alert(1)</script>/'; DROP TABLE consent_records;--"
    response = post_consent(client, site.key, consent_body(url=url))
    assert response.status_code == 201
    record = db.session.execute(select(ConsentRecord)).scalar_one()
    assert record.page_url == url
    assert "DROP TABLE" not in response.get_data(as_text=True)


def test_unknown_site_is_404(client, site):
    assert_error(post_consent(client, "no-such-site"), 404, "unknown_site")
    assert_error(post_consent(client, "bad key with spaces"), 404, "unknown_site")
    assert_error(client.get("/api/v1/sites/no-such-site/config"), 404, "unknown_site")
    assert_error(client.get("/api/v1/sites/no-such-site/decision"), 404, "unknown_site")
    assert_error(client.get("/api/v1/sites/" + "k" * 300 + "/decision"), 404, "unknown_site")


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example.com", "https://shop.example.dk.evil.com", "http://shop.example.dk", "null", ""],
)
def test_foreign_origin_is_refused(client, site, origin):
    headers = {"Origin": origin} if origin else {}
    response = client.post(f"/api/v1/sites/{site.key}/consents", data=json.dumps(consent_body()), headers=headers)
    assert_error(response, 403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in response.headers
    assert stored_rows() == (0, 0, 0, 0)


def test_missing_origin_is_refused(client, site):
    response = client.post(f"/api/v1/sites/{site.key}/consents", data=json.dumps(consent_body()))
    assert_error(response, 403, "origin_not_allowed")


def test_wrong_method_and_unknown_path_are_json_errors(client, site):
    assert_error(client.put(f"/api/v1/sites/{site.key}/consents"), 405, "method_not_allowed")
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_malformed_config_language_is_refused(client, site):
    assert_error(client.get(f"/api/v1/sites/{site.key}/config?lang=%3Cscript%3E"), 422, "invalid_request")


def test_impression_with_bad_body_counts_nothing(client, site):
    response = client.post(
        f"/api/v1/sites/{site.key}/impressions", data=b"\xff\xfe", headers={"Origin": "https://shop.example.dk"}
    )
    assert_error(response, 400, "invalid_json")
    assert_error(client.post(f"/api/v1/sites/{site.key}/impressions", headers={"Origin": "https://evil.example.com"}), 403, "origin_not_allowed")
    assert stored_rows() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b",
        "." * 50,
        "x" * 5000,
        "eyJjIjoiMSJ9.forged-signature",
        "\u00e6\u00f8\u00e5.\u00e6\u00f8\u00e5",
    ],
)
def test_malformed_tokens_never_break_the_token_endpoints(client, site, token):
    consent_id = "0" * 32
    proof = client.get(f"/api/v1/sites/{site.key}/consents/{consent_id}", query_string={"token": token})
    assert_error(proof, 401, "invalid_token")
    for where in ({"query_string": {"token": token}}, {"data": json.dumps({"token": token[:3000]})}):
        withdraw = client.post(
            f"/api/v1/sites/{site.key}/consents/{consent_id}/withdraw", headers={"Origin": "https://shop.example.dk"}, **where
        )
        assert_error(withdraw, 401, "invalid_token")
    decision = client.get(f"/api/v1/sites/{site.key}/decision", query_string={"token": token})
    assert decision.status_code == 200 and decision.get_json()["status"] == "invalid"
    assert stored_rows() == (0, 0, 0, 0)


def test_error_messages_never_echo_what_was_sent(client, site):
    marker = "marker-7f3a@example.dk"
    bodies = [
        json.dumps(consent_body(language=marker)),
        json.dumps(consent_body(choices={marker: True})),
        json.dumps(consent_body(method=marker)),
        marker,
    ]
    for raw in bodies:
        response = post_consent(client, site.key, raw=raw.encode())
        assert response.status_code in (400, 422)
        assert marker not in response.get_data(as_text=True)


def test_a_body_of_exactly_4_kib_is_accepted(client, site):
    raw = json.dumps(consent_body()).encode()
    raw = raw[:-1] + b" " * (4096 - len(raw)) + b"}"
    assert len(raw) == 4096
    assert post_consent(client, site.key, raw=raw).status_code == 201
    assert post_consent(client, site.key, raw=raw[:-1] + b" }").status_code == 413
