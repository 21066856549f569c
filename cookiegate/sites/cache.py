"""What each server process keeps in memory: site snapshots and the withdrawal list.

Both are refreshed from the database at most COOKIEGATE_STATE_TTL seconds
apart (30 by default, 60 at most), so a policy bump, a withdrawal or an
erasure made in any process counts in every process within a minute, while
the decision endpoint itself reads nothing from the database.
Nothing here must be shared between processes: the database is the truth.

Stale if error: when a refresh fails because the database is unavailable, the
last state read keeps being served (for up to STALE_LIMIT, 24 hours) and the
refresh is retried every RETRY_AFTER_SECONDS, so the gate and the banner config
survive an outage; only a site this process never loaded answers 503.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..infra import db_errors
from ..infra.compression import variants
from ..infra.signing import consent_hash, to_ms
from ..models import ConsentRevocation, Service, Site, utcnow
from .banner_config import choose_language, content_hash, first_layer, public_config
from .site import SITE_KEY_PATTERN

# Revocations are re-read with this overlap, so one committed late (or stamped
# by a machine whose clock is a little behind) is still seen.
REVOCATION_OVERLAP = dt.timedelta(minutes=2)
# How long the last state read may be served while the database cannot be read.
STALE_LIMIT = 24 * 3600.0


def _unavailable(error: SQLAlchemyError) -> Optional[str]:
    """The outage's reason (after rolling the session back), or None when the error is a bug."""
    reason = db_errors.unavailable_reason(error)
    if reason is not None:
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass
    return reason


@dataclass(frozen=True)
class SiteState:
    id: int
    key: str
    name: str
    origins: frozenset[str]
    policy_version: int
    lifetime_days: int
    default_language: str
    languages: tuple[str, ...]
    categories: tuple[str, ...]
    required: frozenset[str]
    # service key -> category slug, in the site's order
    service_categories: dict[str, str]
    configs: dict[str, dict[str, Any]] = field(repr=False)
    config_hashes: dict[str, str] = field(repr=False)
    # language -> {"identity" | "gzip" | "br": body}
    config_bodies: dict[str, dict[str, bytes]] = field(repr=False)
    # The same for `config?layer=first`: what the banner needs before the settings are opened.
    first_layer_hashes: dict[str, str] = field(repr=False)
    first_layer_bodies: dict[str, dict[str, bytes]] = field(repr=False)
    # (status, granted) -> serialised decision parts; filled by decision.py as answers are given.
    decision_fragments: dict = field(default_factory=dict, repr=False, compare=False)

    def language_for(self, requested: Optional[str]) -> str:
        return choose_language(self, requested)  # type: ignore[arg-type]

    def allows_origin(self, origin: Optional[str]) -> bool:
        return bool(origin) and origin.lower() in self.origins


def _body(content: Any) -> dict[str, bytes]:
    return variants(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def snapshot(site: Site) -> SiteState:
    configs = {language: public_config(site, language) for language in site.languages}
    firsts = {language: first_layer(config) for language, config in configs.items()}
    return SiteState(
        id=site.id,
        key=site.key,
        name=site.name,
        origins=frozenset(site.origins),
        policy_version=site.policy_version,
        lifetime_days=site.consent_lifetime_days,
        default_language=site.default_language,
        languages=tuple(site.languages),
        categories=tuple(c.slug for c in site.categories),
        required=frozenset(c.slug for c in site.categories if c.required),
        service_categories={s.key: s.category.slug for s in site.services},
        configs=configs,
        config_hashes={language: content_hash(config) for language, config in configs.items()},
        config_bodies={language: _body(config) for language, config in configs.items()},
        first_layer_hashes={language: content_hash(first) for language, first in firsts.items()},
        first_layer_bodies={language: _body(first) for language, first in firsts.items()},
    )


class SiteStates:
    """Site snapshots by key, each reloaded when older than the TTL."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        # key -> (fresh until, state or None for an unknown key, when it was read); monotonic seconds
        self._entries: dict[str, tuple[float, Optional[SiteState], float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[SiteState]:
        if not SITE_KEY_PATTERN.match(key or ""):
            return None
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and now < entry[0]:
            return entry[1]
        with self._lock:
            try:
                state = self._load(key)
            except SQLAlchemyError as error:
                reason = _unavailable(error)
                if reason is None or entry is None or now - entry[2] > STALE_LIMIT:
                    raise
                db_errors.current().served_stale(reason)
                self._entries[key] = (now + db_errors.RETRY_AFTER_SECONDS, entry[1], entry[2])
                return entry[1]
            self._entries[key] = (now + self.ttl, state, now)
            if len(self._entries) > 10_000:  # unknown keys must not grow memory without bound
                self._entries = {k: v for k, v in self._entries.items() if v[1] is not None}
        return state

    def invalidate(self, key: Optional[str] = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    @staticmethod
    def _load(key: str) -> Optional[SiteState]:
        site = db.session.execute(
            select(Site)
            .where(Site.key == key)
            .options(
                selectinload(Site.categories),
                selectinload(Site.services).selectinload(Service.cookies),
                selectinload(Site.services).selectinload(Service.category),
            )
        ).scalar_one_or_none()
        return snapshot(site) if site is not None else None


class Revocations:
    """consent hash -> (site log position, time) up to which that consent's tokens no longer count.

    Keyed by infra.signing.consent_hash, as the table is: an erased consent's id is kept nowhere.
    Kept only as long as a revoked token could still be presented: entries older than the longest
    consent lifetime of any site are dropped (such tokens answer `expired` anyway).
    """

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._revoked: dict[str, tuple[Optional[int], int]] = {}
        self._loaded_at: Optional[float] = None
        self._fresh_until = 0.0
        self._since: Optional[dt.datetime] = None
        self._lock = threading.Lock()

    def revoked(self, consent_id: str) -> Optional[tuple[Optional[int], int]]:
        """(up to seq or None, revoked at in ms) for this consent id, or None."""
        if time.monotonic() >= self._fresh_until:
            self.refresh()
        return self._revoked.get(consent_hash(consent_id))

    def note(self, consent_id: str, up_to_seq: Optional[int], revoked_at: dt.datetime) -> None:
        """Count a revocation made by this process at once, without waiting for the refresh."""
        self._remember(consent_hash(consent_id), up_to_seq, to_ms(revoked_at))

    def _remember(self, digest: str, up_to_seq: Optional[int], revoked_ms: int) -> None:
        known = self._revoked.get(digest)
        if known is not None:
            seqs = [s for s in (known[0], up_to_seq) if s is not None]
            up_to_seq, revoked_ms = (max(seqs) if seqs else None), max(known[1], revoked_ms)
        self._revoked[digest] = (up_to_seq, revoked_ms)

    def __len__(self) -> int:
        return len(self._revoked)

    def refresh(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._fresh_until:
                return  # another thread refreshed meanwhile
            try:
                self._refresh()
            except SQLAlchemyError as error:
                reason = _unavailable(error)
                stale_for = now - self._loaded_at if self._loaded_at is not None else None
                if reason is None or stale_for is None or stale_for > STALE_LIMIT:
                    raise
                db_errors.current().served_stale(reason)
                self._fresh_until = now + db_errors.RETRY_AFTER_SECONDS
                return
            self._loaded_at = now
            self._fresh_until = now + self.ttl

    def _refresh(self) -> None:
        started = utcnow()
        longest_days = db.session.execute(select(func.max(Site.consent_lifetime_days))).scalar() or 0
        oldest = started - dt.timedelta(days=longest_days) - REVOCATION_OVERLAP
        since = oldest if self._since is None else max(self._since, oldest)
        query = select(ConsentRevocation.consent_hash, ConsentRevocation.up_to_seq, ConsentRevocation.revoked_at).where(
            ConsentRevocation.revoked_at >= since
        )
        rows = db.session.execute(query).all()
        # Drop what no unexpired token can be affected by any more.
        oldest_ms = to_ms(oldest)
        if any(revoked_ms < oldest_ms for _, revoked_ms in self._revoked.values()):
            self._revoked = {k: v for k, v in self._revoked.items() if v[1] >= oldest_ms}
        for digest, up_to_seq, revoked_at in rows:
            self._remember(digest, up_to_seq, to_ms(revoked_at))
        self._since = started - REVOCATION_OVERLAP


@dataclass
class ProcessState:
    sites: SiteStates
    revocations: Revocations
    # Banner snapshots this process knows are stored.
    stored_snapshots: set[str] = field(default_factory=set)
    # When this process next deletes expired idempotency keys (monotonic seconds).
    next_key_cleanup: float = 0.0


def init_app(app: Flask) -> None:
    ttl = app.config["COOKIEGATE_STATE_TTL"]
    app.extensions["cookiegate.state"] = ProcessState(SiteStates(ttl), Revocations(ttl))


def process_state() -> ProcessState:
    return current_app.extensions["cookiegate.state"]
