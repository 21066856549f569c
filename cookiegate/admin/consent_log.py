"""The consent log as the console shows it: find a consent by id, its receipt, export and erase
(both audited), and the state of the log: its latest checkpoint, and verify-log on request (audited).

The proof-log operations themselves live in cookiegate.proof; this module only
shapes them for the console and names every action in the audit trail.
"""
from __future__ import annotations

import re
import time
from typing import Any, Optional

from flask import current_app
from sqlalchemy import func, select

from .. import audit_trail
from ..extensions import db
from ..infra.signing import consent_hash
from ..models import ConsentRecord, ConsentRevocation, Site, utcnow
from ..proof.checkpoints import latest
from ..proof.keys import CheckpointKeyError, checkpoint_keys
from ..proof.receipt import receipt
from ..proof.removal import erase as proof_erase
from ..proof.schedule import interval
from ..proof.verify import duration, verify_log
from ..stats.rollup import catch_up

CONSENT_ID = re.compile(r"^[0-9a-f]{32}$")


def normalise_id(raw: Optional[str]) -> Optional[str]:
    """A consent id as the visitor sees it (32 hex digits; spaces and case forgiven), else None."""
    value = re.sub(r"[\s-]", "", raw or "").lower()
    return value if CONSENT_ID.match(value) else None


def records(site: Site, consent_id: str) -> list[ConsentRecord]:
    return list(
        db.session.execute(
            select(ConsentRecord)
            .where(ConsentRecord.site_id == site.id, ConsentRecord.consent_id == consent_id)
            .order_by(ConsentRecord.seq)
        ).scalars()
    )


def erased(site: Site, consent_id: str) -> bool:
    """Whether this consent was erased: its tombstones keep no consent id (so no record can be
    shown for it), but the revocation that answers its tokens names it by hash."""
    return db.session.execute(
        select(ConsentRevocation.id).where(
            ConsentRevocation.site_id == site.id, ConsentRevocation.consent_hash == consent_hash(consent_id),
            ConsentRevocation.reason == "erase",
        ).limit(1)
    ).first() is not None


def export(site: Site, consent_id: str, actor: str) -> Optional[dict[str, Any]]:
    """The receipt, with the export in the audit trail; None when nothing is held. The caller commits."""
    document = receipt(site, consent_id)
    if document is None:
        return None
    # The trail names a consent by its hash, never by the id itself (the id is the visitor's).
    audit_trail.record(actor, "consent.export", site, consent_hash=consent_hash(consent_id))
    return document


def erase(site: Site, consent_id: str, actor: str) -> int:
    """Tombstone the consent's records and revoke its tokens (audited by the proof log). The caller commits."""
    catch_up(site.id)  # the statistics count each record before its payload goes
    return proof_erase(site, consent_id, actor)


def log_status(site: Site) -> dict[str, Any]:
    """What the page shows on every view, cheap at any size of log: the latest checkpoint and
    how many records came after it (max(seq) reads the (site_id, seq) index). verify-log reads
    the whole log, so it runs only when asked (verify below)."""
    checkpoint = latest(site.id, site.key)
    last_seq = db.session.execute(select(func.max(ConsentRecord.seq)).where(ConsentRecord.site_id == site.id)).scalar() or 0
    # The window: how long records after the checkpoint have been open to rewriting unseen (docs/proof.md).
    window = int((utcnow() - checkpoint.signed_at).total_seconds()) if checkpoint else None
    return {"checkpoint": checkpoint, "last_seq": last_seq, "unsigned": max(0, last_seq - (checkpoint.seq if checkpoint else 0)),
            "window_seconds": window, "window": duration(window) if window is not None else None, "interval": interval(current_app._get_current_object())}


def verify(site: Site, actor: str, seconds: Optional[float] = None) -> dict[str, Any]:
    """verify-log over this site's log, asked for by `actor`, and the run noted in the audit
    trail (`log.verify`, with the verdict). It stops after `seconds` (status "partial", or red
    if a problem was found by then) so that a web request answers before its worker is killed;
    None: the whole log. {"report": SiteReport} or, without a checkpoint key,
    {"report": None, "problem": why}. The caller commits."""
    try:
        keys = checkpoint_keys()
    except CheckpointKeyError as error:
        audit_trail.record(actor, "log.verify", site, status="unknown", problem=str(error))
        return {"report": None, "problem": str(error)}
    deadline = None if seconds is None else time.monotonic() + seconds
    report = verify_log(keys, [site], deadline=deadline)[0]
    audit_trail.record(actor, "log.verify", site, status=report.status, summary=report.summary(),
                 records=report.records, problem_count=report.problem_count)
    return {"report": report}
