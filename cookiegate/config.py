"""Settings from the environment; defaults serve a laptop.

Every setting is a plain config key so tests (and `create_app(config=...)`)
can override it without touching the environment.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

ENVIRONMENTS = ("development", "testing", "production")
DEV_KEY_FILE = "secret_keys"
MIN_KEY_LENGTH = 32


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
        # Login attempts: every attempt per client address; failed attempts per account.
        "COOKIEGATE_LOGIN_RATELIMIT": env.get("COOKIEGATE_LOGIN_RATELIMIT", "10 per minute"),
        "COOKIEGATE_LOGIN_ACCOUNT_RATELIMIT": env.get("COOKIEGATE_LOGIN_ACCOUNT_RATELIMIT", "10 per 15 minutes"),
        # A login session ends this many hours after logging in (the signed cookie carries its age).
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
    if not 0 <= config["COOKIEGATE_STATE_TTL"] <= 60:
        raise ConfigError("COOKIEGATE_STATE_TTL must be between 0 and 60 seconds (withdrawals must count within 60 s)")
    if config["COOKIEGATE_TRUSTED_PROXIES"] < 0:
        raise ConfigError("COOKIEGATE_TRUSTED_PROXIES must be 0 or more")
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["SQLALCHEMY_DATABASE_URI"])
    # The newest key signs Flask's own session cookie too.
    config["SECRET_KEY"] = keys[-1]
