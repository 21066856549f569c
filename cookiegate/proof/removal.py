"""Erasure and purge: records lose their payload and keep a tombstone (seq, kind, day, hashes),
and each erase and each purge batch appends a removal record naming the seqs it emptied, why
and by whom (proof/ledger.py), so verify-log can tell a tombstone cookiegate made from one
made with SQL.

Both take the site row only for the removal record, at the end of a short transaction, and
purge works in batches, so consents keep being written meanwhile; both are safe to interrupt
and to run again (a tombstone is never selected twice). Statistics are rollups summed behind
each site's seq (stats/rollup.py): the caller catches them up first (`stats.rollup.catch_up`),
so every record is counted before its payload goes and neither moves the totals.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Callable, Optional

from flask import current_app
from sqlalchemy import and_, delete, func, select, update

from .. import audit_trail
from ..consents import KEY_CLEANUP_BATCH, expire_idempotency_keys
from ..extensions import db
from ..infra.signing import consent_hash
from ..models import ConsentRecord, ConsentRevocation, IdempotencyKey, Site, utcnow
from .ledger import PAYLOAD_FIELDS, append_removal, removal_note, runs

PURGE_BATCH = 1000
# After each batch purge rests this multiple of the time the batch took, so consent writes
# waiting for the same rows, CPU, WAL flushes or (on SQLite) the write lock get their turn.
# benchmarks/proof.py on 2 cores, writes during purge against none: rest 1 kept 0.56 (SQLite) and
# 0.45 (PostgreSQL), rest 3 kept 0.72 and 0.68; a sixth of the time busy leaves them more.
PURGE_REST = 5.0
_records = ConsentRecord.__table__
# Everything about the visitor goes; seq, payload_hash and chain_hash stay.
EMPTIED = dict.fromkeys(PAYLOAD_FIELDS)


def _secrets() -> list[str]:
    return current_app.config["COOKIEGATE_SECRET_KEYS"]


def erase(site: Site, consent_id: str, actor: str, now: Optional[dt.datetime] = None) -> int:
    """Tombstone every record of one consent and revoke its tokens; the number of records emptied.

    The revocation names the consent by its hash (the id is not kept anywhere), and every
    process counts it within COOKIEGATE_STATE_TTL (at most 60 s), like a withdrawal.
    Nothing is written when no record is held. The caller has caught up the statistics
    (they count payloads, which go here) and commits.
    """
    now = now or utcnow()
    of_this_consent = and_(_records.c.site_id == site.id, _records.c.consent_id == consent_id)
    seqs = db.session.execute(select(_records.c.seq).where(of_this_consent)).scalars().all()
    if not seqs:
        return 0
    # Every token of this consent names one of its records' seq: revoking up to the last one
    # orders the erasure by the log, not by clocks (a consent given again later still counts).
    up_to_seq = max(seqs)
    emptied = db.session.execute(update(_records).where(of_this_consent).values(removed="erased", **EMPTIED)).rowcount
    digest = consent_hash(consent_id)
    note = removal_note(_secrets(), "erase", runs(seqs), actor, now, consent=digest, up_to_seq=up_to_seq)
    append_removal(site.id, site.key, note, now)
    db.session.execute(
        ConsentRevocation.__table__.insert().values(
            site_id=site.id, consent_hash=digest, revoked_at=now, reason="erase", up_to_seq=up_to_seq
        )
    )
    # Retry keys kept for 24 h name the consent id and hold its answer: they go with it.
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.site_id == site.id, IdempotencyKey.consent_id == consent_id))
    audit_trail.record(actor, "consent.erase", site=site, consent_hash=digest, records=emptied)
    return emptied


def purge_cutoff(site: Site, as_of: dt.date) -> dt.datetime:
    """Records created before this moment are past the consent lifetime plus the retention."""
    midnight = dt.datetime.combine(as_of, dt.time.min, tzinfo=dt.timezone.utc)
    return midnight - dt.timedelta(days=site.consent_lifetime_days + site.retention_days)


def _expired(site: Site, cutoff: dt.datetime):
    # Tombstones have no created_at, so they never match and the index range shrinks as purge goes.
    return and_(_records.c.site_id == site.id, _records.c.created_at < cutoff)


def count_expired(site: Site, as_of: dt.date) -> int:
    return db.session.execute(select(func.count()).select_from(_records).where(_expired(site, purge_cutoff(site, as_of)))).scalar_one()


@dataclass
class PurgeResult:
    site: str
    cutoff: dt.datetime
    purged: int = 0
    revocations: int = 0


def expire_retry_keys() -> int:
    """Every site's retry keys past their 24 hours, in committed batches (consent writes also drop
    them now and then); how many went. Purge runs it once."""
    total = 0
    while True:
        expired = expire_idempotency_keys()
        total += expired
        if expired < KEY_CLEANUP_BATCH:
            return total


def purge_site(
    site: Site,
    as_of: dt.date,
    actor: str,
    batch: int = PURGE_BATCH,
    progress: Optional[Callable[[int], None]] = None,
    rest: float = PURGE_REST,
) -> PurgeResult:
    """Tombstone the site's expired records, one committed batch (with its removal record) at a
    time. The caller has caught up the statistics."""
    result = PurgeResult(site.key, purge_cutoff(site, as_of))
    condition = _expired(site, result.cutoff)
    while True:
        started = time.monotonic()
        found = db.session.execute(select(_records.c.id, _records.c.seq).where(condition).limit(batch)).all()
        if not found:
            break
        done = db.session.execute(
            update(_records).where(_records.c.id.in_([row.id for row in found]), _records.c.removed.is_(None))
            .values(removed="purged", **EMPTIED)
        ).rowcount
        now = utcnow()
        note = removal_note(_secrets(), "purge", runs(row.seq for row in found), actor, now, before=result.cutoff.isoformat())
        append_removal(site.id, site.key, note, now)
        db.session.commit()
        result.purged += done
        if progress:
            progress(done)
        if rest:
            time.sleep((time.monotonic() - started) * rest)
    # A revocation matters only while the tokens it revokes live: past the lifetime it can go.
    revocation_cutoff = min(utcnow(), dt.datetime.combine(as_of, dt.time.min, tzinfo=dt.timezone.utc)) - dt.timedelta(
        days=site.consent_lifetime_days
    )
    result.revocations = db.session.execute(
        delete(ConsentRevocation).where(ConsentRevocation.site_id == site.id, ConsentRevocation.revoked_at < revocation_cutoff)
    ).rowcount
    if result.purged or result.revocations:
        audit_trail.record(
            actor, "log.purge", site=site, records=result.purged, revocations=result.revocations,
            as_of=as_of.isoformat(), cutoff=result.cutoff.isoformat(),
        )
    db.session.commit()
    return result
