"""Signing checkpoints: the job that verifies a site's log and signs its head, run by
`checkpoint` and, when a checkpoint key is configured, by the service itself every
COOKIEGATE_CHECKPOINT_INTERVAL seconds (300 by default; 0 turns it off).

A head is signed only when verify-log's checks over the whole log it covers (records,
tombstones and their removal records, revocations, banner texts, earlier checkpoints) come out
green or amber, so a tampered log is never blessed. Every server process wakes now and then;
the one that moves the single `checkpoint_schedule` row on claims the interval and signs, so
there is one signing per interval however many processes run.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from .. import audit_trail
from ..extensions import db
from ..infra import database
from ..models import CheckpointSchedule, LogCheckpoint, Site, utcnow
from .checkpoints import Checkpoint, latest, sign
from .keys import CheckpointKeyError, CheckpointKeys, checkpoint_keys
from .verify import Problem, verify_site

SCHEDULED_ACTOR = "cookiegate (scheduled checkpoint)"
log = logging.getLogger(__name__)


@dataclass
class CheckpointResult:
    site: str
    checkpoint: Optional[Checkpoint]
    # "signed", "unchanged" (the last checkpoint still names the head), "empty", or "refused".
    outcome: str
    problems: list[Problem] = field(default_factory=list)


def checkpoint_site(site: Site, keys: CheckpointKeys, actor: str, now: Optional[dt.datetime] = None,
                    skip_unchanged: bool = False) -> CheckpointResult:
    """Verify the site's log as verify-log does, then sign its head and store the checkpoint.
    `skip_unchanged`: when the last checkpoint already names the head, answer without reading
    the log (the scheduled run, for quiet sites). The caller commits."""
    keys.signer()  # fail before reading anything when there is no key
    seq, head = db.session.execute(select(Site.log_seq, Site.log_head).where(Site.id == site.id)).one()
    previous = latest(site.id, site.key)
    if skip_unchanged and previous is not None and (previous.seq, previous.head) == (seq, head):
        return CheckpointResult(site.key, previous, "unchanged")
    report = verify_site(site, keys, upto=seq, head=head, now=now)
    if report.status not in ("green", "amber"):
        if report.status == "empty":
            return CheckpointResult(site.key, None, "empty")
        return CheckpointResult(site.key, None, "refused", report.problems)
    if previous is not None and (previous.seq, previous.head) == (seq, head):
        return CheckpointResult(site.key, previous, "unchanged")
    checkpoint = sign(keys, site.key, seq, head, now)
    db.session.add(
        LogCheckpoint(
            site_id=site.id, seq=checkpoint.seq, head=checkpoint.head, signed_at=checkpoint.signed_at,
            key_id=checkpoint.key, signature=checkpoint.signature,
        )
    )
    audit_trail.record(actor, "log.checkpoint", site=site, after={"seq": seq, "head": head}, key=checkpoint.key)
    return CheckpointResult(site.key, checkpoint, "signed")


def checkpoint_sites(
    sites: Iterable[Site], keys: CheckpointKeys, actor: str, progress: Optional[Callable[[CheckpointResult], None]] = None,
    skip_unchanged: bool = False,
) -> list[CheckpointResult]:
    results = []
    for site in sites:
        result = checkpoint_site(site, keys, actor, skip_unchanged=skip_unchanged)
        db.session.commit()  # one short transaction per site
        results.append(result)
        if progress:
            progress(result)
    return results


# --- the schedule ----------------------------------------------------------------------------

def interval(app: Flask) -> int:
    """Seconds between scheduled checkpoints, 0 when the service does not sign by itself: it signs
    only with a key configured for it (COOKIEGATE_CHECKPOINT_KEY or _KEY_FILE), never the development one."""
    config = app.config
    if not (config.get("COOKIEGATE_CHECKPOINT_KEY") or config.get("COOKIEGATE_CHECKPOINT_KEY_FILE")):
        return 0
    return int(config.get("COOKIEGATE_CHECKPOINT_INTERVAL", 300))


def claim(every: int, now: Optional[dt.datetime] = None) -> bool:
    """Take this interval's signing if no process has: moves the schedule row on and commits."""
    now = now or utcnow()
    table = CheckpointSchedule.__table__
    db.session.execute(database.insert(CheckpointSchedule).values(id=1, next_at=now).on_conflict_do_nothing(index_elements=["id"]))
    moved = db.session.execute(
        update(table).where(table.c.id == 1, table.c.next_at <= now).values(next_at=now + dt.timedelta(seconds=every))
    ).rowcount
    db.session.commit()
    return moved == 1


def run_due(app: Flask, now: Optional[dt.datetime] = None) -> Optional[list[CheckpointResult]]:
    """Sign every site's head if this interval is due and this process claims it; None otherwise."""
    every = interval(app)
    if not every:
        return None
    with app.app_context():
        try:
            if not claim(every, now):
                return None
            sites = list(db.session.execute(select(Site).order_by(Site.key)).scalars())
            results = checkpoint_sites(sites, checkpoint_keys(app), SCHEDULED_ACTOR, skip_unchanged=True)
        except (SQLAlchemyError, CheckpointKeyError):
            db.session.rollback()
            log.exception("scheduled checkpoint failed; the next interval tries again")
            return None
        finally:
            db.session.remove()
    for result in results:
        if result.outcome == "refused":
            log.error("scheduled checkpoint: %s NOT signed, its log does not verify: %s", result.site,
                      "; ".join(str(p) for p in result.problems[:5]))
    return results


@dataclass
class Scheduler:
    """This process's signing thread; `stop` ends it (tests, and a clean shutdown)."""

    stop: threading.Event = field(default_factory=threading.Event)
    thread: Optional[threading.Thread] = None
    pid: Optional[int] = None


def init_app(app: Flask) -> None:
    """Start the schedule in each server process (after gunicorn forks it) with its first request."""
    if not interval(app):
        return
    scheduler = app.extensions["cookiegate.checkpoint_schedule"] = Scheduler()

    @app.before_request
    def _start_schedule() -> None:
        if scheduler.pid == os.getpid():
            return
        scheduler.pid = os.getpid()
        scheduler.thread = threading.Thread(target=_loop, args=(app, scheduler.stop), name="cookiegate-checkpoints", daemon=True)
        scheduler.thread.start()


def _loop(app: Flask, stop: threading.Event) -> None:
    # Waking five times an interval bounds the window at 1.2 intervals whichever process wins.
    pause = max(1.0, interval(app) / 5)
    while not stop.wait(pause):
        run_due(app)
