"""Property-based: whatever JSON a client posts, the answer is a documented status, never a 500,
and a refused request leaves the log as it was."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord

from .support import post_consent

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
                    st.text(max_size=60))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=12)
categories = st.sampled_from(["necessary", "statistics", "marketing", "preferences", "", "Statistics", "x" * 50])
bodies = st.fixed_dictionaries(
    {},
    optional={
        "choices": st.one_of(values, st.dictionaries(categories, st.one_of(st.booleans(), values), max_size=4)),
        "method": st.one_of(st.sampled_from(["accept_all", "reject_all", "custom", "withdraw"]), values),
        "policy_version": st.one_of(st.integers(min_value=-2, max_value=3), values),
        "url": st.one_of(st.sampled_from(["https://shop.example.dk/a?b=c", "http://[::1]:80/", "https://x:0/"]), st.text(max_size=80), values),
        "language": st.one_of(st.sampled_from(["da", "en-GB", "de"]), st.text(max_size=40), values),
        "gpc": values,
        "token": values,
        "idempotency_key": values,
    },
)
ALLOWED = {201, 400, 409, 413, 422}


def record_count() -> int:
    return db.session.execute(select(func.count()).select_from(ConsentRecord)).scalar_one()


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies)
def test_any_json_body_gets_a_documented_answer(client, site, body):
    before = record_count()
    response = post_consent(client, site.key, raw=json.dumps(body).encode())
    assert response.status_code in ALLOWED, (response.status_code, response.data)
    payload = response.get_json()
    if response.status_code == 201:
        assert payload["choices"]["necessary"] is True
        assert record_count() in (before, before + 1)  # a replayed idempotency key adds nothing
    else:
        assert set(payload) == {"error"} and payload["error"]["code"]
        assert record_count() == before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(raw=st.binary(max_size=300))
def test_any_bytes_get_a_documented_answer(client, site, raw):
    response = post_consent(client, site.key, raw=raw)
    assert response.status_code in ALLOWED
    if response.status_code != 201:
        assert response.get_json()["error"]["code"]
