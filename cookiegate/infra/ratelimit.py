"""Rate limits for the write endpoints, on the `limits` library.

Only decorated views pay for a check (the decision endpoint and the banner
files do not). Clients are counted under a keyed hash of their address, so no
store ever holds an address. A store that is down (Redis) must never cost a
consent: checks then fall back to this process's memory.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional

from flask import Flask, current_app, request
from limits import parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from ..errors import ApiError

log = logging.getLogger(__name__)
WARN_EVERY = 60.0


def client_key() -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    address = (request.remote_addr or "").encode()
    return hmac.new(secret, b"ratelimit:" + address, hashlib.sha256).hexdigest()[:24]


class LazyMemoryStorage(MemoryStorage):
    """limits' MemoryStorage without its expiry timer thread.

    The stock store starts a new threading.Timer on every write that comes more than 10 ms
    after the previous one: profiled, that thread start was about a quarter of a consent
    POST's time under load. Counters are expired on read anyway (`get`), so pruning the
    rest inline at most once a second keeps memory bounded at no per-request cost.
    """

    PRUNE_EVERY = 1.0

    def __init__(self, uri: Optional[str] = None, **options):
        super().__init__(uri, **options)
        self.timer.cancel()
        self._next_prune = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces the private timer start
        now = time.monotonic()
        if now >= self._next_prune:
            self._next_prune = now + self.PRUNE_EVERY
            self._MemoryStorage__expire_events()


def _storage(uri: str, key_prefix: str) -> Storage:
    if uri.startswith("memory://"):
        return LazyMemoryStorage()
    return storage_from_string(uri, key_prefix=key_prefix)


@dataclass
class _Bound:
    primary: FixedWindowRateLimiter
    fallback: FixedWindowRateLimiter
    warned_at: float = -WARN_EVERY


class RateLimiter:
    """Created once below (`limiter`); each app gets its own store through init_app."""

    def init_app(self, app: Flask) -> None:
        storage = _storage(app.config["COOKIEGATE_RATELIMIT_STORAGE"], app.config.get("COOKIEGATE_RATELIMIT_KEY_PREFIX", "cookiegate"))
        app.extensions["cookiegate.ratelimit"] = _Bound(FixedWindowRateLimiter(storage), FixedWindowRateLimiter(LazyMemoryStorage()))

    def limit(self, setting: str = "COOKIEGATE_RATELIMIT") -> Callable:
        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(*args, **kwargs):
                self.check(request.endpoint or view.__name__, current_app.config[setting])
                return view(*args, **kwargs)

            return wrapper

        return decorator

    def check(self, scope: str, rule: str, identity: Optional[str] = None, count: bool = True) -> None:
        """Raise 429 when `identity` (default: the client's hashed address) is over `rule` in `scope`.

        With count=False the attempt is only tested, not counted (login counts failures per
        account with hit() afterwards, so the owner is not locked out by their own successes).
        """
        bound: _Bound = current_app.extensions["cookiegate.ratelimit"]
        item = _parse(rule)
        identifiers = ("cookiegate", scope, identity or client_key())
        try:
            limiter = bound.primary
            allowed = limiter.hit(item, *identifiers) if count else limiter.test(item, *identifiers)
        except Exception as error:  # the store is down: count in memory until it is back
            now = time.monotonic()
            if now - bound.warned_at >= WARN_EVERY:
                bound.warned_at = now
                log.warning("rate-limit store unreachable (%s); counting in memory meanwhile", type(error).__name__)
            limiter = bound.fallback
            allowed = limiter.hit(item, *identifiers) if count else limiter.test(item, *identifiers)
        if not allowed:
            reset_at = limiter.get_window_stats(item, *identifiers).reset_time
            retry_after = max(1, math.ceil(reset_at - time.time()))
            raise ApiError(429, "rate_limited", "Too many requests; try again later.", headers={"Retry-After": str(retry_after)})

    def hit(self, scope: str, rule: str, identity: str) -> None:
        """Count one event against `identity` without refusing this request."""
        bound: _Bound = current_app.extensions["cookiegate.ratelimit"]
        identifiers = ("cookiegate", scope, identity)
        try:
            bound.primary.hit(_parse(rule), *identifiers)
        except Exception:
            bound.fallback.hit(_parse(rule), *identifiers)

    def count(self, scope: str, rule: str, identity: str) -> int:
        """How many events `identity` has in the current window of `rule` in `scope`."""
        bound: _Bound = current_app.extensions["cookiegate.ratelimit"]
        item = _parse(rule)
        identifiers = ("cookiegate", scope, identity)
        try:
            stats = bound.primary.get_window_stats(item, *identifiers)
        except Exception:
            stats = bound.fallback.get_window_stats(item, *identifiers)
        return item.amount - stats.remaining


limiter = RateLimiter()


def keyed(kind: str, value: str) -> str:
    """A keyed hash naming what is counted (an address, an account) without storing it."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"ratelimit:{kind}:".encode() + value.encode("utf-8"), hashlib.sha256).hexdigest()[:24]


@functools.lru_cache(maxsize=32)
def _parse(rule: str):
    return parse(rule)


def rule_amount(rule: str) -> int:
    """How many events `rule` ("10 per 15 minutes") allows in a window."""
    return _parse(rule).amount
