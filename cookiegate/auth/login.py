"""Checking a login, and keeping guessers out without letting them lock the owner out.

- Every attempt counts against the client address (COOKIEGATE_LOGIN_RATELIMIT, 10 a minute).
- Failures count against the account and address pair (COOKIEGATE_LOGIN_PAIR_RATELIMIT, 10 in
  15 minutes): over it, that address gets 429 for that account, the right password too. The
  owner at another address is not affected.
- Failures count against the account from anywhere: after COOKIEGATE_LOGIN_FREE_FAILURES of them
  in 15 minutes, the next attempt must wait 1 s after the latest failure, then 2 s, 4 s, ... up
  to COOKIEGATE_LOGIN_MAX_DELAY (429 with Retry-After meanwhile; no worker sleeps). A browser
  that logged in to this account before carries a signed device cookie and skips that delay
  (OWASP's "device cookies"), so even many guessing addresses cannot keep the owner out of
  their own browser; its own failures count against it like a pair's.
- An unknown e-mail costs as long as a wrong password (a dummy hash is checked).
- The audit trail gets `login.success`, `login.failure` and `login.lockout`, naming the client
  by a short keyed hash of its address, never the address.
- A hash made with older parameters is redone with the configured ones at a successful login.

All counters live in the rate-limit store (Redis when several processes run).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Optional

from flask import current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

from .. import audit_trail
from ..infra.ratelimit import client_key, keyed, limiter, rule_amount
from ..models import User
from .users import check_password, get_user, hash_password, needs_rehash, password_method

# Failures per account are counted in 15-minute windows; the limit itself is never reached.
ACCOUNT_FAILURES = "100000 per 15 minutes"
DEVICE_COOKIE = "cookiegate_device"
DEVICE_SALT = "cookiegate.login-device.v1"
DEVICE_MAX_AGE = 180 * 24 * 3600


@dataclass
class LoginAttempt:
    email: str
    password: str
    device_cookie: Optional[str] = None


def account_delay(failures: int, free: int, maximum: int) -> int:
    """Seconds an untrusted attempt must wait after the latest failure: 0 within the free
    failures, then 1, 2, 4, ... up to `maximum`."""
    if failures <= free:
        return 0
    return min(2 ** min(failures - free - 1, 30), maximum)


def audit_client() -> str:
    """A short keyed hash naming the client's address in the audit trail (never the address)."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"audit-client:" + (request.remote_addr or "").encode(), hashlib.sha256).hexdigest()[:12]


@functools.lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    # Checked when the e-mail is unknown, with the configured parameters, so it costs the same.
    from werkzeug.security import generate_password_hash

    return generate_password_hash("not a password of anyone", method=method)


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["COOKIEGATE_SECRET_KEYS"], salt=DEVICE_SALT)


def device_cookie_for(email: str) -> str:
    """The device cookie a browser gets at a successful login to this account."""
    return _device_serializer().dumps({"a": keyed("account", email.strip().lower()), "d": secrets.token_urlsafe(12)})


def _trusted_device(cookie: Optional[str], account: str, rule: str) -> Optional[str]:
    """The (hashed) device id when `cookie` is a device cookie of this account with failures to spare."""
    if not cookie or len(cookie) > 300:
        return None
    try:
        payload = _device_serializer().loads(cookie, max_age=DEVICE_MAX_AGE)
    except BadData:
        return None
    if not isinstance(payload, dict) or payload.get("a") != account or not isinstance(payload.get("d"), str):
        return None
    device = keyed("device", payload["d"])
    if limiter.count("login:device", rule, device) >= rule_amount(rule):
        return None
    return device


def authenticate(attempt: LoginAttempt) -> Optional[User]:
    """The user for these credentials, or None (audited). Raises ApiError 429 while this address
    must wait for this account, or the account's delay has not passed."""
    config = current_app.config
    email = attempt.email.strip().lower()
    account = keyed("account", email)
    pair = keyed("pair", account + ":" + client_key())
    pair_rule = config["COOKIEGATE_LOGIN_PAIR_RATELIMIT"]
    limiter.check("login:address", config["COOKIEGATE_LOGIN_RATELIMIT"])
    limiter.check("login:pair", pair_rule, identity=pair, count=False)
    device = _trusted_device(attempt.device_cookie, account, pair_rule)
    if device is None:
        delay = account_delay(limiter.count("login:account", ACCOUNT_FAILURES, account),
                              config["COOKIEGATE_LOGIN_FREE_FAILURES"], config["COOKIEGATE_LOGIN_MAX_DELAY"])
        if delay:
            limiter.check("login:wait", f"1 per {delay} second", identity=account, count=False)
    user = get_user(email)
    valid = check_password(user.password_hash if user else _dummy_hash(password_method()), attempt.password)
    if user is None or not valid or not user.active:
        _failed(user, account, pair, device, reason="inactive" if user is not None and valid else "password")
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(attempt.password)
    audit_trail.record(user.email, "login.success", client=audit_client(), trusted_device=device is not None)
    return user


def _failed(user: Optional[User], account: str, pair: str, device: Optional[str], reason: str) -> None:
    """Count a failure everywhere it counts; record it, and any lockout it starts."""
    config = current_app.config
    pair_rule = config["COOKIEGATE_LOGIN_PAIR_RATELIMIT"]
    limiter.hit("login:pair", pair_rule, pair)
    if device is not None:
        limiter.hit("login:device", pair_rule, device)
    limiter.hit("login:account", ACCOUNT_FAILURES, account)
    failures = limiter.count("login:account", ACCOUNT_FAILURES, account)
    free, maximum = config["COOKIEGATE_LOGIN_FREE_FAILURES"], config["COOKIEGATE_LOGIN_MAX_DELAY"]
    delay = account_delay(failures, free, maximum)
    if delay:
        limiter.hit("login:wait", f"1 per {delay} second", account)
    # Only an existing account is named: what someone typed into the e-mail field (a password,
    # now and then) is never kept.
    email = user.email if user is not None else None
    client = audit_client()
    audit_trail.record("anonymous", "login.failure", email=email, known_account=user is not None, reason=reason,
                       client=client, failures_in_15_minutes=failures)
    if limiter.count("login:pair", pair_rule, pair) == rule_amount(pair_rule):
        audit_trail.record("anonymous", "login.lockout", email=email, scope="address", client=client, rule=pair_rule)
    if failures == free + 1:
        audit_trail.record("anonymous", "login.lockout", email=email, scope="account", client=client,
                           delay_seconds=delay, max_delay_seconds=maximum)
