"""verify-log: every record's payload hash, the chain without gaps, every checkpoint's
signature and position, and the site's head.

Per site the answer is
- green: everything verifies and the last record is covered by a signed checkpoint;
- amber: everything verifies, but records after the last checkpoint are chained, not yet signed
  (someone with write access could still rewrite those unseen);
- red: something does not verify; the problems name sequence numbers and, where the record
  still has one, its consent id.

Records are streamed in seq order (a server-side cursor on PostgreSQL), and only the current
hash and a bounded list of problems are kept, so memory stays flat however long the log is.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterable, Optional

from sqlalchemy import func, select

from ..extensions import db
from ..models import ConsentRecord, Site
from .checkpoints import Checkpoint, stored
from .keys import CheckpointKeys
from .ledger import PAYLOAD_FIELDS, chain_hash, genesis, payload_hash

MAX_LISTED = 50  # problems listed per site; all are counted
BATCH = 5000
TOMBSTONE_MARKS = ("erased", "purged")
_records = ConsentRecord.__table__
COLUMNS = (
    _records.c.seq,
    *(_records.c[name] for name in PAYLOAD_FIELDS),
    _records.c.payload_hash,
    _records.c.chain_hash,
    _records.c.removed,
)
_PAYLOAD = slice(1, 1 + len(PAYLOAD_FIELDS))
_P, _C, _R = 1 + len(PAYLOAD_FIELDS), 2 + len(PAYLOAD_FIELDS), 3 + len(PAYLOAD_FIELDS)


@dataclass(frozen=True)
class Problem:
    seq: Optional[int]
    consent_id: Optional[str]
    reason: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "log"
        who = f" (consent {self.consent_id})" if self.consent_id else ""
        return f"{where}{who}: {self.reason}"


@dataclass
class SiteReport:
    site: str
    status: str = "green"
    records: int = 0
    tombstones: int = 0
    first_seq: int = 0
    last_seq: int = 0
    checkpoints: int = 0
    signed_upto: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    # Set when a deadline stopped the check (status "partial"): the last seq checked, and the log's end.
    stopped_at: Optional[int] = None
    upto: int = 0

    def add(self, seq: Optional[int], consent_id: Optional[str], reason: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED:
            self.problems.append(Problem(seq, consent_id, reason))

    @property
    def unsigned(self) -> int:
        return max(0, self.last_seq - self.signed_upto)

    def summary(self) -> str:
        counts = f"{self.records} records" + (f" ({self.tombstones} tombstones)" if self.tombstones else "")
        if self.status == "red":
            return f"{self.site}: RED, {self.problem_count} problem(s) in {counts}"
        if self.status == "partial":
            return (f"{self.site}: partial, {counts} checked up to seq {self.stopped_at} of {self.upto} before the time "
                    f"limit, no problem among them; the rest was not checked")
        if self.records == 0:
            return f"{self.site}: green, empty log"
        signed = f"signed up to seq {self.signed_upto}" if self.signed_upto else "no checkpoint yet"
        if self.status == "amber":
            return f"{self.site}: amber, {counts} chained; {signed}, {self.unsigned} record(s) after it not yet signed"
        return f"{self.site}: green, {counts} verified; {signed} ({self.checkpoints} checkpoint(s) checked)"

    def as_dict(self) -> dict:
        return {
            "site": self.site, "status": self.status, "records": self.records, "tombstones": self.tombstones,
            "last_seq": self.last_seq, "signed_upto": self.signed_upto, "unsigned": self.unsigned,
            "checkpoints": self.checkpoints, "problem_count": self.problem_count,
            "problems": [{"seq": p.seq, "consent_id": p.consent_id, "reason": p.reason} for p in self.problems],
        }


def stream(site_id: int, after_seq: int = 0, upto: Optional[int] = None):
    """The site's records in seq order, fetched in batches (server-side cursor on PostgreSQL)."""
    query = select(*COLUMNS).where(_records.c.site_id == site_id, _records.c.seq > after_seq).order_by(_records.c.seq)
    if upto is not None:
        query = query.where(_records.c.seq <= upto)
    result = db.session.execute(query, execution_options={"yield_per": BATCH})
    try:
        for partition in result.partitions():
            yield from partition
    finally:
        result.close()


def verify_site(
    site: Site,
    keys: CheckpointKeys,
    given: Iterable[Checkpoint] = (),
    anchor: Optional[Checkpoint] = None,
    upto: Optional[int] = None,
    head: Optional[str] = None,
    deadline: Optional[float] = None,
) -> SiteReport:
    """Check one site's log. `anchor`: start after this (already verified) checkpoint instead of
    at the beginning; `upto`/`head`: the end to check against instead of the site's row;
    `deadline` (a time.monotonic() value): stop there with status "partial" (or red, if a problem
    was found by then) — for a web request, which must answer before its worker is timed out."""
    report = SiteReport(site.key)
    if upto is None:
        upto, head = db.session.execute(select(Site.log_seq, Site.log_head).where(Site.id == site.id)).one()
    start_seq = anchor.seq if anchor else 0
    previous = anchor.head if anchor else genesis(site.key)

    expected: dict[int, list[Checkpoint]] = {}
    for checkpoint in [*stored(site.id, site.key), *given]:
        if checkpoint.seq <= start_seq and anchor is not None:
            continue
        report.checkpoints += 1
        why = checkpoint.problem(keys)
        if why:
            report.add(checkpoint.seq, None, f"{checkpoint.origin} checkpoint signed at {_at(checkpoint)} is not valid: {why}")
            continue
        expected.setdefault(checkpoint.seq, []).append(checkpoint)
    last_matched = start_seq

    seq_expected = start_seq + 1
    report.upto = upto
    for row in stream(site.id, start_seq, upto):
        seq = row[0]
        if deadline is not None and report.records % BATCH == 0 and report.records and time.monotonic() > deadline:
            report.stopped_at = seq_expected - 1
            break
        payload = row[_PAYLOAD]
        consent_id = payload[0]
        stored_payload, stored_chain, removed = row[_P], row[_C], row[_R]
        report.records += 1
        gap = seq != seq_expected
        if gap:
            report.add(seq_expected, None, _missing(seq_expected, seq - 1))
        if consent_id is None:
            report.tombstones += 1
            if removed not in TOMBSTONE_MARKS or any(value is not None for value in payload):
                report.add(seq, None, "the consent id was removed outside erase/purge (payload partly gone)")
        else:
            if removed is not None:
                report.add(seq, consent_id, f"marked {removed!r} but still holds a payload")
            if payload[1] is None or payload_hash(payload) != stored_payload:
                report.add(seq, consent_id, "record altered: its content does not match its payload hash")
        if not gap and chain_hash(previous, seq, stored_payload) != stored_chain:
            report.add(seq, consent_id, "chain broken: record inserted, replaced or rehashed here")
        for checkpoint in expected.pop(seq, ()):
            if checkpoint.head == stored_chain:
                last_matched = seq
            else:
                report.add(
                    seq, None,
                    f"does not match the {checkpoint.origin} checkpoint signed at {_at(checkpoint)}: records after seq "
                    f"{last_matched} up to {seq} were rewritten",
                )
        previous = stored_chain
        seq_expected = seq + 1
    last = seq_expected - 1
    report.first_seq, report.last_seq = start_seq + 1, last
    if report.stopped_at is not None:
        # The end of the log was not reached: its checks (head, deleted tail) cannot be made.
        report.signed_upto = last_matched if last_matched > start_seq else 0
        report.status = "red" if report.problem_count else "partial"
        return report

    if last < upto:
        report.add(last + 1, None, _missing(last + 1, upto) + f" (the site's head says the log ends at seq {upto})")
    elif last > start_seq and head != previous:
        report.add(last, None, "the site's head hash does not match the last record")
    # Consents written meanwhile move the head on in the same transaction as their record, so a
    # record beyond the head as read *after* the last record was not written by cookiegate.
    beyond = db.session.execute(select(func.max(_records.c.seq)).where(_records.c.site_id == site.id)).scalar() or 0
    now_upto = db.session.execute(select(Site.log_seq).where(Site.id == site.id)).scalar_one()
    if beyond > now_upto:
        report.add(now_upto + 1, None, f"records up to seq {beyond} lie beyond the site's head (seq {now_upto}): inserted behind its back")
    for seq, checkpoints in sorted(expected.items()):
        for checkpoint in checkpoints:
            if seq > last:
                report.add(seq, None, f"the {checkpoint.origin} checkpoint signed at {_at(checkpoint)} names seq {seq}, "
                                      f"beyond the end of the log: records were deleted")
            else:
                report.add(seq, None, f"the record the {checkpoint.origin} checkpoint signed at {_at(checkpoint)} names is missing")
    report.signed_upto = last_matched if last_matched > start_seq or anchor is not None else 0
    if report.problem_count:
        report.status = "red"
    elif report.records and report.signed_upto < last:
        report.status = "amber"
    return report


def _missing(first: int, last: int) -> str:
    return f"record seq {first} missing (deleted)" if first == last else f"records seq {first}..{last} missing (deleted)"


def _at(checkpoint: Checkpoint) -> str:
    return checkpoint.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_log(keys: CheckpointKeys, sites: Iterable[Site], given: Iterable[Checkpoint] = (),
               deadline: Optional[float] = None) -> list[SiteReport]:
    given = list(given)
    reports = []
    for site in sites:
        reports.append(verify_site(site, keys, [c for c in given if c.site == site.key], deadline=deadline))
        db.session.rollback()  # end the read transaction between sites
    return reports
