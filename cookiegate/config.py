"""Settings from the environment; defaults serve a laptop.

Every setting is a plain config key so tests (and `create_app(config=...)`)
can override it without touching the environment.
"""
from __future__ import annotations

import collections
import datetime as dt
import math
import os
import re
import secrets
import zlib
from pathlib import Path

ENVIRONMENTS = ("development", "testing", "production")
DEV_KEY_FILE = "secret_keys"
MIN_KEY_LENGTH = 32
# Estimated by key_strength_bits: random 32-character hex keys came out at 88 bits or more (100,000
# drawn), token_urlsafe(48) above 300; "a" * 40 at 0, "abcdefghij" * 4 at 40.
MIN_KEY_BITS = 80
# OWASP's Password Storage Cheat Sheet: scrypt with N >= 2^17, r >= 8, p >= 1 (128 MiB and 0.4-0.5 s
# per hash on the 2-core development machine: benchmarks/login_time.py).
PASSWORD_HASH = "scrypt:131072:8:1"
PASSWORD_HASH_PATTERN = re.compile(r"^scrypt:(\d+):(\d+):(\d+)$")


class ConfigError(RuntimeError):
    """The service must not start with this configuration."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


def from_environment(instance_path: str) -> dict:
    env = os.environ
    return {
        "COOKIEGATE_ENV": env.get("COOKIEGATE_ENV", "development").strip() or "development",
        "SQLALCHEMY_DATABASE_URI": env.get("COOKIEGATE_DATABASE_URL")
        or f"sqlite:///{Path(instance_path) / 'cookiegate.db'}",
        "COOKIEGATE_SECRET_KEYS": [k.strip() for k in env.get("COOKIEGATE_SECRET_KEYS", "").split(",") if k.strip()],
        "COOKIEGATE_GEOIP_DB": env.get("COOKIEGATE_GEOIP_DB") or str(Path(instance_path) / "GeoLite2-City.mmdb"),
        "COOKIEGATE_TRUSTED_PROXIES": _int("COOKIEGATE_TRUSTED_PROXIES", 0),
        "COOKIEGATE_RATELIMIT_STORAGE": env.get("COOKIEGATE_RATELIMIT_STORAGE", "memory://"),
        # Every key this service writes to a shared store (Redis) starts with this, so several
        # services (or test runs) can share one Redis without touching each other's counters.
        "COOKIEGATE_RATELIMIT_KEY_PREFIX": env.get("COOKIEGATE_RATELIMIT_KEY_PREFIX", "cookiegate").strip() or "cookiegate",
        # Per client address (hashed, never stored in the clear) for each write endpoint.
        "COOKIEGATE_RATELIMIT": env.get("COOKIEGATE_RATELIMIT", "120 per minute"),
        # How stale a process's view of policy versions and withdrawals may be.
        "COOKIEGATE_STATE_TTL": _int("COOKIEGATE_STATE_TTL", 30),
        # Several processes with the in-memory store each count apart (limits multiply by the worker
        # count): gunicorn.conf.py refuses that in production unless this says it is meant.
        "COOKIEGATE_RATELIMIT_PER_PROCESS": env.get("COOKIEGATE_RATELIMIT_PER_PROCESS", "").strip().lower() in ("1", "yes", "true"),
        # Login attempts (auth/login.py): every attempt per client address; failed attempts per account
        # and address pair (over it, that address waits; the owner elsewhere does not); and per account,
        # after this many failures in 15 minutes, a delay before the next attempt that doubles with each
        # further failure up to the maximum (seconds). A browser that logged in before skips the delay.
        "COOKIEGATE_LOGIN_RATELIMIT": env.get("COOKIEGATE_LOGIN_RATELIMIT", "10 per minute"),
        "COOKIEGATE_LOGIN_PAIR_RATELIMIT": env.get("COOKIEGATE_LOGIN_PAIR_RATELIMIT", "10 per 15 minutes"),
        "COOKIEGATE_LOGIN_FREE_FAILURES": _int("COOKIEGATE_LOGIN_FREE_FAILURES", 5),
        "COOKIEGATE_LOGIN_MAX_DELAY": _int("COOKIEGATE_LOGIN_MAX_DELAY", 60),
        # Password hashes (werkzeug's method string); stored hashes of another method are redone at login.
        "COOKIEGATE_PASSWORD_HASH": env.get("COOKIEGATE_PASSWORD_HASH", PASSWORD_HASH).strip() or PASSWORD_HASH,
        # A login session ends this many hours after logging in, however active it is (auth/sessions.py).
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(hours=_int("COOKIEGATE_SESSION_HOURS", 8)),
        "SESSION_COOKIE_NAME": "cookiegate_session",
        # Seconds to wait for a database connection, the SQLite write lock or a pool slot.
        "COOKIEGATE_DB_TIMEOUT": _float("COOKIEGATE_DB_TIMEOUT", 5.0),
        # PostgreSQL statement and lock timeout in seconds; 0 = none. gunicorn.conf.py sets 5 for
        # the web workers; command-line jobs (migrations, purge) keep none.
        "COOKIEGATE_DB_STATEMENT_TIMEOUT": _float("COOKIEGATE_DB_STATEMENT_TIMEOUT", 0.0),
        # The console's "Verify the log now" stops after this many seconds (gunicorn's worker
        # timeout is 30); the whole log is always checked by `cookiegate verify-log`.
        "COOKIEGATE_CONSOLE_VERIFY_SECONDS": _float("COOKIEGATE_CONSOLE_VERIFY_SECONDS", 20.0),
        # Public config is cached by browsers this long (seconds).
        "COOKIEGATE_CONFIG_MAX_AGE": _int("COOKIEGATE_CONFIG_MAX_AGE", 600),
        # Ed25519 key that signs log checkpoints (proof/keys.py): PEM or base64 text, or a PEM file.
        "COOKIEGATE_CHECKPOINT_KEY": env.get("COOKIEGATE_CHECKPOINT_KEY", "").strip(),
        "COOKIEGATE_CHECKPOINT_KEY_FILE": env.get("COOKIEGATE_CHECKPOINT_KEY_FILE", "").strip(),
        # Further public keys whose checkpoints verify (earlier keys; or a machine that only verifies).
        "COOKIEGATE_CHECKPOINT_PUBLIC_KEYS": [
            k.strip() for k in env.get("COOKIEGATE_CHECKPOINT_PUBLIC_KEYS", "").split(",") if k.strip()
        ],
        # With a checkpoint key configured the service signs every this many seconds (0: only `checkpoint` signs).
        "COOKIEGATE_CHECKPOINT_INTERVAL": _int("COOKIEGATE_CHECKPOINT_INTERVAL", 300),
    }


def normalise_database_url(url: str) -> str:
    """`postgres://` and `postgresql://` mean psycopg 3, the driver we ship."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def development_keys(instance_path: str) -> list[str]:
    """A signing key generated once into instance/ and reused, so tokens survive restarts."""
    path = Path(instance_path) / DEV_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def check(config: dict, instance_path: str) -> None:
    """Fill in development defaults, and refuse what production must not run with."""
    environment = config["COOKIEGATE_ENV"]
    if environment not in ENVIRONMENTS:
        raise ConfigError(f"COOKIEGATE_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}")
    keys = config["COOKIEGATE_SECRET_KEYS"]
    if not keys:
        if environment == "production":
            raise ConfigError(
                "COOKIEGATE_SECRET_KEYS is not set. Outside development the service needs real signing keys: "
                "set it to one or more comma-separated random strings of at least "
                f"{MIN_KEY_LENGTH} characters (python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        keys = development_keys(instance_path)
        config["COOKIEGATE_SECRET_KEYS"] = keys
    if environment == "production":
        weak = [i for i, key in enumerate(keys) if len(key) < MIN_KEY_LENGTH]
        if weak:
            raise ConfigError(
                f"COOKIEGATE_SECRET_KEYS entries {weak} are shorter than {MIN_KEY_LENGTH} characters; "
                "use random keys (python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        plain = [i for i, key in enumerate(keys) if key_strength_bits(key) < MIN_KEY_BITS]
        if plain:
            raise ConfigError(
                f"COOKIEGATE_SECRET_KEYS entries {plain} have too little variety to be random (repeated characters "
                "or patterns); use random keys (python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        _check_password_hash(config["COOKIEGATE_PASSWORD_HASH"])
    if "COOKIEGATE_LOGIN_ACCOUNT_RATELIMIT" in os.environ:
        raise ConfigError(
            "COOKIEGATE_LOGIN_ACCOUNT_RATELIMIT is gone: failed logins now lock one account and address pair "
            "(COOKIEGATE_LOGIN_PAIR_RATELIMIT) and slow the account down (COOKIEGATE_LOGIN_FREE_FAILURES, "
            "COOKIEGATE_LOGIN_MAX_DELAY); see the README."
        )
    if config["COOKIEGATE_LOGIN_FREE_FAILURES"] < 1 or config["COOKIEGATE_LOGIN_MAX_DELAY"] < 1:
        raise ConfigError("COOKIEGATE_LOGIN_FREE_FAILURES and COOKIEGATE_LOGIN_MAX_DELAY must be at least 1")
    if not 0 <= config["COOKIEGATE_STATE_TTL"] <= 60:
        raise ConfigError("COOKIEGATE_STATE_TTL must be between 0 and 60 seconds (withdrawals must count within 60 s)")
    if config["COOKIEGATE_CHECKPOINT_INTERVAL"] < 0:
        raise ConfigError("COOKIEGATE_CHECKPOINT_INTERVAL must be 0 (off) or more seconds")
    if config["COOKIEGATE_TRUSTED_PROXIES"] < 0:
        raise ConfigError("COOKIEGATE_TRUSTED_PROXIES must be 0 or more")
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    # The newest key signs Flask's own session cookie too.
    config["SECRET_KEY"] = keys[-1]


def key_strength_bits(key: str) -> float:
    """A generous estimate of a key's randomness in bits: its length times the entropy of its
    characters, capped by what remains after compression (each byte zlib keeps counting as one
    character of the key's own alphabet), so a varied but repeating key ('abcdefghij' * 4) is weak."""
    if not key:
        return 0.0
    counts = collections.Counter(key)
    per_character = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    kept = len(zlib.compress(key.encode("utf-8"), 9)) - len(zlib.compress(b"x", 9))
    return min(len(key) * per_character, max(kept, 0) * math.log2(max(len(counts), 2)))


def _check_password_hash(method: str) -> None:
    match = PASSWORD_HASH_PATTERN.match(method)
    if not match or int(match.group(1)) < 2**17 or int(match.group(2)) < 8 or int(match.group(3)) < 1:
        raise ConfigError(
            f"COOKIEGATE_PASSWORD_HASH must be scrypt with at least OWASP's parameters ({PASSWORD_HASH}), got {method!r}"
        )


def check_workers(config: dict, workers: int) -> None:
    """Refuse several worker processes that would each count rate limits in their own memory:
    a limit of 10 a minute would let 10 per worker through (gunicorn.conf.py calls this)."""
    if (
        config["COOKIEGATE_ENV"] == "production"
        and workers > 1
        and config["COOKIEGATE_RATELIMIT_STORAGE"].startswith("memory://")
        and not config["COOKIEGATE_RATELIMIT_PER_PROCESS"]
    ):
        raise ConfigError(
            f"{workers} worker processes would each count rate limits apart with COOKIEGATE_RATELIMIT_STORAGE="
            f"{config['COOKIEGATE_RATELIMIT_STORAGE']}, so every limit (logins included) would let {workers} times "
            "as much through. Set COOKIEGATE_RATELIMIT_STORAGE=redis://HOST:6379/0 (one store for all processes), "
            "or run one worker (WEB_CONCURRENCY=1), or accept per-process counting with "
            "COOKIEGATE_RATELIMIT_PER_PROCESS=yes."
        )
