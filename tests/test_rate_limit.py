"""Too many requests: 429 with Retry-After, counted per hashed client address, never a 500."""
from __future__ import annotations

import os
import uuid

import pytest
import redis

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord

from .support import post_consent, wait_until


def test_too_many_consents_get_429_with_retry_after(make_app, app, site):
    limited = make_app(COOKIEGATE_RATELIMIT="3 per minute").test_client()
    for _ in range(3):
        assert post_consent(limited, site.key).status_code == 201
    response = post_consent(limited, site.key)
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # the window, rounded up
    assert db.session.query(ConsentRecord).count() == 3


def test_limits_are_per_client_address(make_app, app, site):
    limited = make_app(COOKIEGATE_RATELIMIT="2 per minute").test_client()

    def post_from(address):
        return limited.post(
            f"/api/v1/sites/{site.key}/consents",
            data=b'{"method": "accept_all", "policy_version": 1}',
            headers={"Origin": "https://shop.example.dk"},
            environ_base={"REMOTE_ADDR": address},
        )

    assert [post_from(a).status_code for a in ("192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.2")] == [201] * 4
    assert post_from("192.0.2.1").status_code == 429


def redis_or_skip(url: str) -> redis.Redis:
    """The Redis at url; a machine without Redis skips the test, except in CI (CI=true), where it is required."""
    connection = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.RedisError:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"Redis does not answer at {url} (required only with CI=true)")
    return connection


def test_shared_redis_store_counts_across_processes_without_keeping_addresses(make_app, app, site):
    store = os.environ.get("COOKIEGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    connection = redis_or_skip(store)
    # Keys of this run only: a shared Redis holds other people's data, so no flushdb.
    prefix = f"cookiegate-test-{uuid.uuid4().hex[:12]}"
    settings = {"COOKIEGATE_RATELIMIT": "3 per minute", "COOKIEGATE_RATELIMIT_STORAGE": store, "COOKIEGATE_RATELIMIT_KEY_PREFIX": prefix}
    first, second = make_app(**settings), make_app(**settings)
    try:
        statuses = [post_consent(c.test_client(), site.key).status_code for c in (first, second, first, second)]
        assert statuses == [201, 201, 201, 429]
        stored = connection.keys(f"{prefix}:*")
        assert stored and b"127.0.0.1" not in b" ".join(stored)
    finally:
        for key in connection.scan_iter(f"{prefix}:*"):
            connection.delete(key)


def test_a_rate_limit_store_that_is_down_never_costs_a_consent_and_still_limits(make_app, app, site, caplog):
    unreachable = make_app(COOKIEGATE_RATELIMIT_STORAGE="redis://127.0.0.1:1/0", COOKIEGATE_RATELIMIT="2 per minute").test_client()
    assert [post_consent(unreachable, site.key).status_code for _ in range(3)] == [201, 201, 429]
    assert caplog.text.count("rate-limit store unreachable") == 1


def test_reading_endpoints_are_not_rate_limited(make_app, app, site):
    limited = make_app(COOKIEGATE_RATELIMIT="1 per minute").test_client()
    for _ in range(5):
        assert limited.get(f"/api/v1/sites/{site.key}/decision").status_code == 200
        assert limited.get(f"/api/v1/sites/{site.key}/config").status_code == 200


def test_the_in_memory_store_starts_no_thread_per_write_and_still_expires_counters():
    import threading
    import time

    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    from cookiegate.infra.ratelimit import LazyMemoryStorage

    storage = LazyMemoryStorage()
    limiter, rule = FixedWindowRateLimiter(storage), parse("3 per second")
    time.sleep(0.05)  # the parent's constructor starts (and we cancel) one timer
    threads = threading.active_count()
    seen = set()
    for i in range(200):
        limiter.hit(rule, "client", str(i))
        seen.add(threading.active_count())  # the stock store has a fresh 10 ms timer thread alive here
        time.sleep(0.0005 if i % 50 else 0.02)
    assert seen == {threads}
    assert [limiter.hit(rule, "one") for _ in range(4)] == [True, True, True, False]
    wait_until(lambda: limiter.test(rule, "one"), timeout=3, message="the window never passed")
    assert limiter.hit(rule, "one")  # the window passed: counted afresh
    storage.PRUNE_EVERY = 0
    limiter.hit(rule, "another")
    assert len(storage.storage) <= 2  # expired counters of the 200 clients were dropped
