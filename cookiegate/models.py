"""The data model. Schema changes go through migrations/ only."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

# SQLite has no BIGINT autoincrement; INTEGER PRIMARY KEY is its 64-bit rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")

STANDARD_CATEGORIES = ("necessary", "statistics", "marketing")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in Python on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware datetimes")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Site(db.Model):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Normalised "scheme://host[:port]" strings.
    origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    default_language: Mapped[str] = mapped_column(String(16), default="da")
    languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["da", "en"])
    # {language: {text_key: text}}; overrides the shipped texts of that language.
    texts: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    privacy_policy_url: Mapped[Optional[str]] = mapped_column(String(2048))
    policy_version: Mapped[int] = mapped_column(Integer, default=1)
    consent_lifetime_days: Mapped[int] = mapped_column(Integer, default=365)
    retention_days: Mapped[int] = mapped_column(Integer, default=730)
    min_group_size: Mapped[int] = mapped_column(Integer, default=5)
    # IANA zone whose days the statistics count in ("from"/"to" are inclusive local days).
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Copenhagen", server_default="Europe/Copenhagen")
    floating_button: Mapped[bool] = mapped_column(Boolean, default=True)
    # The banner's colours {"accent", "background", "text"} (cookiegate/sites/colours.py validates them).
    banner_colours: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # Head of the per-site hash chain over consent records (tamper evidence).
    log_seq: Mapped[int] = mapped_column(BigId, default=0)
    log_head: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    categories: Mapped[list["Category"]] = relationship(
        back_populates="site", order_by="Category.position", cascade="all, delete-orphan"
    )
    services: Mapped[list["Service"]] = relationship(
        back_populates="site", order_by="Service.position", cascade="all, delete-orphan"
    )


class Category(db.Model):
    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("site_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(40))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # {language: {"name": ..., "description": ...}}; shipped texts fill the gaps.
    texts: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)

    site: Mapped[Site] = relationship(back_populates="categories")
    services: Mapped[list["Service"]] = relationship(back_populates="category", order_by="Service.position")


class Service(db.Model):
    """A tag the banner holds back until its category is granted."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"), index=True)
    # The name the decision API answers under: "google_analytics", "facebook_pixel" or a custom slug.
    key: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(40), default="custom")
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(200), default="")
    # Kind-specific: {"measurement_id": "G-..."} or {"pixel_id": "..."}.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {language: {"description": ...}}
    texts: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)

    site: Mapped[Site] = relationship(back_populates="services")
    category: Mapped[Category] = relationship(back_populates="services")
    cookies: Mapped[list["ServiceCookie"]] = relationship(
        back_populates="service", order_by="ServiceCookie.id", cascade="all, delete-orphan"
    )


class ServiceCookie(db.Model):
    """A declared cookie: its name (or a pattern such as `_ga_*`), purpose and expiry."""

    __tablename__ = "service_cookies"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str] = mapped_column(String(200), default="")
    # None: a session cookie.
    expiry_days: Mapped[Optional[int]] = mapped_column(Integer)
    # {language: purpose}
    purpose: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)

    service: Mapped[Service] = relationship(back_populates="cookies")


class BannerSnapshot(db.Model):
    """Exactly what a visitor was shown (texts, categories, services), keyed by its hash."""

    __tablename__ = "banner_snapshots"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(16))
    policy_version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentRecord(db.Model):
    """Append-only proof of consent. Never holds an IP address or a raw User-Agent.

    The personal fields (proof.ledger.PAYLOAD_FIELDS) are NULL in a tombstone: a record that
    `erase` or `purge` emptied, which keeps only seq and its hashes so the chain verifies.
    """

    __tablename__ = "consent_records"
    __table_args__ = (
        UniqueConstraint("site_id", "seq"),
        # purge's range scan: per site, oldest first; tombstones (no time) fall out of it.
        Index("ix_consent_records_site_id_created_at", "site_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    # Position in the site's hash chain: a gap shows a deleted record.
    seq: Mapped[int] = mapped_column(BigId)
    consent_id: Mapped[Optional[str]] = mapped_column(String(32), index=True)
    # NULL in tombstones, so purge's range scan over this index shrinks as it goes.
    created_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime, default=utcnow, index=True)
    policy_version: Mapped[Optional[int]] = mapped_column(Integer)
    choices: Mapped[Optional[dict[str, bool]]] = mapped_column(JSON)
    method: Mapped[Optional[str]] = mapped_column(String(16))
    language: Mapped[Optional[str]] = mapped_column(String(16), default="")
    page_url: Mapped[Optional[str]] = mapped_column(String(2048), default="")
    gpc: Mapped[Optional[bool]] = mapped_column(Boolean, default=False)
    country: Mapped[Optional[str]] = mapped_column(String(2), default="")
    region: Mapped[Optional[str]] = mapped_column(String(8), default="")
    city: Mapped[Optional[str]] = mapped_column(String(120), default="")
    device_type: Mapped[Optional[str]] = mapped_column(String(16), default="")
    browser_family: Mapped[Optional[str]] = mapped_column(String(60), default="")
    os_family: Mapped[Optional[str]] = mapped_column(String(60), default="")
    is_bot: Mapped[Optional[bool]] = mapped_column(Boolean, default=False)
    # Hash of the banner snapshot (texts and categories) the visitor was shown.
    banner_hash: Mapped[Optional[str]] = mapped_column(String(64), default="")
    # proof/ledger.py: hash of the personal fields, and of (previous chain hash, seq, payload hash).
    payload_hash: Mapped[str] = mapped_column(String(64))
    chain_hash: Mapped[str] = mapped_column(String(64))
    # Why the payload is gone: "erased" or "purged"; NULL while the record is whole.
    removed: Mapped[Optional[str]] = mapped_column(String(8))
    # Format 2 (proof/ledger.py): "consent", "withdraw" or "removal", and the UTC day written; both are
    # in the chain hash and stay in a tombstone. NULL in format-1 records.
    kind: Mapped[Optional[str]] = mapped_column(String(8))
    day: Mapped[Optional[dt.date]] = mapped_column(Date)
    # A removal record's content: which seqs erase or purge emptied, why, by whom (a keyed hash).
    note: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)


class ConsentRevocation(db.Model):
    """Tokens of this consent up to the site's log position `up_to_seq` no longer count (withdrawal, erasure).

    The consent is named by infra.signing.consent_hash(consent_id), so an erased consent id is
    not kept here either. Ordered by the site's sequence, which the database hands out, never by
    clocks: a consent given after the withdrawal has a higher seq, whatever the app servers'
    clocks say. `revoked_at` only bounds how long the entry is kept (no token outlives the
    consent lifetime). Rows written before seq ordering have no `up_to_seq` and fall back to
    comparing times.
    """

    __tablename__ = "consent_revocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    consent_hash: Mapped[str] = mapped_column(String(64), index=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(String(16))
    up_to_seq: Mapped[Optional[int]] = mapped_column(BigId)


class IdempotencyKey(db.Model):
    """A client's retry key and the answer it was given, kept 24 hours (IDEMPOTENCY_TTL in consents.py).

    `key_hash` is SHA-256 over the endpoint, the consent id (withdrawals) and the key, never the
    key itself; `body_hash` fingerprints the request body, so the same key with another body is
    refused instead of answered with someone else's consent. `answer` holds what re-signs the very
    same token (no token is stored). Written in the transaction of the record it answers for.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("site_id", "key_hash"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    body_hash: Mapped[str] = mapped_column(String(64))
    # So erasing a visitor can drop their pending keys too.
    consent_id: Mapped[str] = mapped_column(String(32), index=True)
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class LogCheckpoint(db.Model):
    """A site's log head signed with the checkpoint key (proof/checkpoints.py), which is not in the database."""

    __tablename__ = "log_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(BigId)
    head: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # First 16 hex digits of SHA-256 over the raw public key.
    key_id: Mapped[str] = mapped_column(String(16))
    # Ed25519 signature, base64url without padding.
    signature: Mapped[str] = mapped_column(String(100))


class CheckpointSchedule(db.Model):
    """One row: when the next scheduled checkpoint is due; the process that moves it on signs (proof/schedule.py)."""

    __tablename__ = "checkpoint_schedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


user_sites = Table(
    "user_sites",
    db.Model.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Language of the pages ("da", "en"); None: the browser's.
    language: Mapped[Optional[str]] = mapped_column(String(8))

    sites: Mapped[list[Site]] = relationship(secondary=user_sites)
    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user", cascade="all, delete-orphan")
    login_sessions: Mapped[list["LoginSession"]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                                passive_deletes=True)

    # The login session (a LoginSession) this object was loaded for, and the secret that named it
    # (auth/sessions.py): plain attributes, not columns.
    login_session = None
    login_secret = None

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated user cannot log in or stay logged in
        return bool(self.active)

    def get_id(self) -> Optional[str]:
        # What Flask-Login keeps in the session cookie: the secret of this login's session row.
        return self.login_secret

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class ApiToken(db.Model):
    """A Bearer token for the stats API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so an operator can tell tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(String(12))
    # What the token is for ("Power BI report"), so an admin knows which one to revoke.
    name: Mapped[Optional[str]] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[Optional[dt.datetime]] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(back_populates="tokens")


class LoginSession(db.Model):
    """One login on one browser (auth/sessions.py). The session cookie carries a random
    secret; only its SHA-256 is kept. Deleting the row ends the session, whatever copies of the
    cookie exist."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The login time plus COOKIEGATE_SESSION_HOURS: however busy the session, it ends then.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)

    user: Mapped[User] = relationship(back_populates="login_sessions")


class AuditEvent(db.Model):
    """Who changed what, for admin actions (never visitors' data)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))
    site_id: Mapped[Optional[int]] = mapped_column(ForeignKey("sites.id", ondelete="SET NULL"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StatsRollup(db.Model):
    """Consent statistics, summed per site, time bucket and one attribute (stats/rollup.py).

    `grain` "q": 15-minute UTC buckets (every time zone's midnight falls on one), "d": UTC days.
    `dim` names the attribute ("all" for none), `value` its value; `granted` the optional
    categories the consents granted (sorted, comma-separated), so each category's count is a sum.
    Filled from consent_records behind the per-site `seq` (StatsWatermark); rows are never
    removed, so purging or erasing raw records does not move the figures.
    """

    __tablename__ = "stats_rollups"
    __table_args__ = (UniqueConstraint("site_id", "dim", "grain", "bucket", "value", "granted"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    dim: Mapped[str] = mapped_column(String(16))
    grain: Mapped[str] = mapped_column(String(1))
    bucket: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    value: Mapped[str] = mapped_column(String(200))
    granted: Mapped[str] = mapped_column(String(200))
    consents: Mapped[int] = mapped_column(BigInteger, default=0)
    accept_all: Mapped[int] = mapped_column(BigInteger, default=0)
    reject_all: Mapped[int] = mapped_column(BigInteger, default=0)
    custom: Mapped[int] = mapped_column(BigInteger, default=0)
    withdraw: Mapped[int] = mapped_column(BigInteger, default=0)


class StatsImpression(db.Model):
    """Banner impressions for statistics (bots left out), per grain/bucket/attribute as StatsRollup;
    updated with each impression (one statement)."""

    __tablename__ = "stats_impressions"
    __table_args__ = (UniqueConstraint("site_id", "dim", "grain", "bucket", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    dim: Mapped[str] = mapped_column(String(16))
    grain: Mapped[str] = mapped_column(String(1))
    bucket: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    value: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class StatsWatermark(db.Model):
    """How far each site's consent records are summed into stats_rollups (their `seq`)."""

    __tablename__ = "stats_watermarks"

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigId, default=0)


class SiteAudit(db.Model):
    """One pre-consent audit of a site (`audit URL --site KEY`): its verdict and JSON report."""

    __tablename__ = "site_audits"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    url: Mapped[str] = mapped_column(String(2048))
    verdict: Mapped[str] = mapped_column(String(8))
    # The report as `cookiegate.siteaudit` returns it (screenshots live in the HTML report only).
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
