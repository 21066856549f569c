"""What each server process keeps in memory: site snapshots and the withdrawal list.

Both are refreshed from the database at most COOKIEGATE_STATE_TTL seconds
apart (30 by default, 60 at most), so a policy bump, a withdrawal or an
erasure made in any process counts in every process within a minute, while
the decision endpoint itself reads nothing from the database.
Nothing here must be shared between processes: the database is the truth.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .extensions import db
from .models import ConsentRevocation, Service, Site, utcnow
from .proof.ledger import consent_hash
from .compression import variants
from .sites import SITE_KEY_PATTERN, choose_language, content_hash, first_layer, public_config
from .tokens import to_ms

# Revocations are re-read with this overlap, so one committed late (or stamped
# by a machine whose clock is a little behind) is still seen.
REVOCATION_OVERLAP = dt.timedelta(minutes=2)


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
        self._entries: dict[str, tuple[float, Optional[SiteState]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Optional[SiteState]:
        if not SITE_KEY_PATTERN.match(key or ""):
            return None
        entry = self._entries.get(key)
        now = time.monotonic()
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        with self._lock:
            state = self._load(key)
            self._entries[key] = (now, state)
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
    """consent hash -> the latest moment (ms) up to which that consent's tokens no longer count.

    Keyed by proof.ledger.consent_hash, as the table is: an erased consent's id is kept nowhere.
    """

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._revoked: dict[str, int] = {}
        self._loaded_at: Optional[float] = None
        self._since: Optional[dt.datetime] = None
        self._lock = threading.Lock()

    def revoked_until(self, consent_id: str) -> Optional[int]:
        loaded_at = self._loaded_at
        if loaded_at is None or time.monotonic() - loaded_at >= self.ttl:
            self.refresh()
        return self._revoked.get(consent_hash(consent_id))

    def note(self, consent_id: str, revoked_at: dt.datetime) -> None:
        """Count a revocation made by this process at once, without waiting for the refresh."""
        self._remember(consent_hash(consent_id), to_ms(revoked_at))

    def _remember(self, digest: str, revoked_ms: int) -> None:
        if revoked_ms > self._revoked.get(digest, 0):
            self._revoked[digest] = revoked_ms

    def refresh(self) -> None:
        with self._lock:
            started = utcnow()
            query = select(ConsentRevocation.consent_hash, ConsentRevocation.revoked_at)
            if self._since is not None:
                query = query.where(ConsentRevocation.revoked_at >= self._since)
            for digest, revoked_at in db.session.execute(query):
                self._remember(digest, to_ms(revoked_at))
            self._since = started - REVOCATION_OVERLAP
            self._loaded_at = time.monotonic()


@dataclass
class ProcessState:
    sites: SiteStates
    revocations: Revocations
    # Banner snapshots this process knows are stored.
    stored_snapshots: set[str] = field(default_factory=set)


def init_app(app: Flask) -> None:
    ttl = app.config["COOKIEGATE_STATE_TTL"]
    app.extensions["cookiegate.state"] = ProcessState(SiteStates(ttl), Revocations(ttl))


def process_state() -> ProcessState:
    return current_app.extensions["cookiegate.state"]
