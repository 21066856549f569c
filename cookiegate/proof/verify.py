"""verify-log: every record's payload hash, the chain without gaps, every tombstone accounted
for by a removal record, every withdrawal and erasure backed by its revocation while it
counts, every banner text a record names matching its hash, every checkpoint's signature and
position, and the site's head.

Per site the answer is
- green: everything verifies and the last record is covered by a signed checkpoint;
- amber: everything verifies, but records after the last checkpoint are chained, not yet signed
  (the window: someone with write access could still rewrite those unseen);
- red: something does not verify; the problems name sequence numbers and, where the record
  still has one, its consent id.
An empty log reads "empty" only when nothing shows it was ever signed.

Records are streamed in seq order (a server-side cursor on PostgreSQL). What is kept grows
with the removal records, revocations and banner snapshots (a few per erase, purge batch or
policy change), never with the records, so memory stays flat however long the log is.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Iterable, Optional

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..infra.signing import consent_hash
from ..models import AuditEvent, BannerSnapshot, ConsentRecord, ConsentRevocation, Site, utcnow
from ..sites.banner_config import content_hash
from .checkpoints import Checkpoint, stored
from .keys import CheckpointKeys
from .ledger import PAYLOAD_FIELDS, canonical_time, chain_hash, genesis, note_hash, note_is_ours, payload_hash

MAX_LISTED = 50  # problems listed per site; all are counted
BATCH = 5000
TOMBSTONE_MARKS = ("erased", "purged")
REMOVAL_REASONS = {"erase": "erased", "purge": "purged"}
KNOWN_KINDS = frozenset((None, "consent", "withdraw", "removal"))
_records = ConsentRecord.__table__
COLUMNS = (
    _records.c.seq,
    *(_records.c[name] for name in PAYLOAD_FIELDS),
    _records.c.payload_hash,
    _records.c.chain_hash,
    _records.c.removed,
    _records.c.kind,
    _records.c.day,
    _records.c.note,
)
_PAYLOAD = slice(1, 1 + len(PAYLOAD_FIELDS))
_P = 1 + len(PAYLOAD_FIELDS)
_C, _R, _K, _D, _N = _P + 1, _P + 2, _P + 3, _P + 4, _P + 5
_CREATED, _METHOD, _BANNER = (PAYLOAD_FIELDS.index(name) for name in ("created_at", "method", "banner_hash"))


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
    removals: int = 0
    notices: int = 0
    first_seq: int = 0
    last_seq: int = 0
    checkpoints: int = 0
    signed_upto: int = 0
    # When the newest checkpoint that matched the log was signed: the window starts there.
    signed_at: Optional[dt.datetime] = None
    checked_at: Optional[dt.datetime] = None
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

    @property
    def window_seconds(self) -> Optional[int]:
        """Time since the last checkpoint that matched: how long records after it have been open to rewriting."""
        if self.signed_at is None or self.checked_at is None:
            return None
        return max(0, int((self.checked_at - self.signed_at).total_seconds()))

    def window(self) -> str:
        if self.signed_at is None:
            return "no checkpoint: every record can be rewritten, appended or truncated unseen"
        ago = duration(self.window_seconds or 0)
        return (f"window: last checkpoint signed {self.signed_at:%Y-%m-%dT%H:%M:%SZ}, {ago} ago; "
                f"{self.unsigned} record(s) after it could be rewritten, appended or truncated unseen")

    def summary(self) -> str:
        counts = f"{self.records} records" + (f" ({self.tombstones} tombstones)" if self.tombstones else "")
        if self.status == "red":
            return f"{self.site}: RED, {self.problem_count} problem(s) in {counts}"
        if self.status == "partial":
            return (f"{self.site}: partial, {counts} checked up to seq {self.stopped_at} of {self.upto} before the time "
                    f"limit, no problem among them; the rest was not checked")
        if self.status == "empty":
            return f"{self.site}: empty, no records and no sign that any were ever signed"
        signed = f"signed up to seq {self.signed_upto}" if self.signed_upto else "no checkpoint yet"
        if self.status == "amber":
            return f"{self.site}: amber, {counts} chained; {signed}, {self.unsigned} record(s) after it not yet signed; {self.window()}"
        return f"{self.site}: green, {counts} verified; {signed} ({self.checkpoints} checkpoint(s) checked); {self.window()}"

    def as_dict(self) -> dict:
        return {
            "site": self.site, "status": self.status, "records": self.records, "tombstones": self.tombstones,
            "removal_records": self.removals, "notices_checked": self.notices,
            "last_seq": self.last_seq, "signed_upto": self.signed_upto, "unsigned": self.unsigned,
            "signed_at": self.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.signed_at else None,
            "window_seconds": self.window_seconds,
            "checkpoints": self.checkpoints, "problem_count": self.problem_count,
            "problems": [{"seq": p.seq, "consent_id": p.consent_id, "reason": p.reason} for p in self.problems],
        }


def duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def stream(site_id: int, upto: Optional[int] = None):
    """The site's records in seq order, fetched in batches (server-side cursor on PostgreSQL)."""
    query = select(*COLUMNS).where(_records.c.site_id == site_id).order_by(_records.c.seq)
    if upto is not None:
        query = query.where(_records.c.seq <= upto)
    result = db.session.execute(query, execution_options={"yield_per": BATCH})
    try:
        for partition in result.partitions():
            yield from partition
    finally:
        result.close()


class _Tombstones:
    """Format-2 tombstones as runs of seqs, and the runs removal records name; what no removal covers."""

    def __init__(self) -> None:
        self.pending: list[list] = []  # [first, last, mark]
        self.covered: list[tuple[int, int, str]] = []

    def tombstone(self, seq: int, mark: str) -> None:
        last = self.pending[-1] if self.pending else None
        if last is not None and last[1] == seq - 1 and last[2] == mark:
            last[1] = seq
        else:
            self.pending.append([seq, seq, mark])

    def removal(self, seq: int, note: dict) -> Optional[str]:
        """Note a removal record's runs; why it is malformed, if it is."""
        mark = REMOVAL_REASONS.get(note.get("reason"))
        seqs = note.get("seqs")
        if mark is None or not isinstance(seqs, list):
            return "removal record without a reason or seqs"
        for run in seqs:
            if not (isinstance(run, list) and len(run) == 2 and all(isinstance(n, int) for n in run) and 0 < run[0] <= run[1] < seq):
                return f"removal record names seqs {run!r}, not a run of earlier records"
            self.covered.append((run[0], run[1], mark))
        return None

    def uncovered(self) -> Iterable[tuple[int, int, str]]:
        """(first, last, mark) of tombstone stretches no removal record (of the same reason) names."""
        by_mark: dict[str, list[tuple[int, int]]] = {}
        for first, last, mark in self.covered:
            by_mark.setdefault(mark, []).append((first, last))
        for runs in by_mark.values():
            runs.sort()
        for first, last, mark in self.pending:
            position = first
            for run_first, run_last in by_mark.get(mark, ()):
                if run_last < position:
                    continue
                if run_first > last:
                    break
                if run_first > position:
                    yield position, run_first - 1, mark
                position = max(position, run_last + 1)
                if position > last:
                    break
            if position <= last:
                yield position, last, mark


def _revocations(site_id: int) -> dict[str, float]:
    """consent hash -> the highest seq its revocations reach (infinite for the old, time-ordered rows)."""
    reach: dict[str, float] = {}
    for digest, up_to_seq in db.session.execute(
        select(ConsentRevocation.consent_hash, ConsentRevocation.up_to_seq).where(ConsentRevocation.site_id == site_id)
    ):
        seq = float("inf") if up_to_seq is None else up_to_seq
        reach[digest] = max(reach.get(digest, 0), seq)
    return reach


def _once_signed(site: Site, given: list[Checkpoint]) -> bool:
    """Anything showing the log was signed before: a checkpoint (stored or given), or the audit trail."""
    if given or stored(site.id, site.key):
        return True
    return db.session.execute(
        select(AuditEvent.id).where(AuditEvent.site_id == site.id, AuditEvent.action == "log.checkpoint").limit(1)
    ).first() is not None


def verify_site(
    site: Site,
    keys: CheckpointKeys,
    given: Iterable[Checkpoint] = (),
    upto: Optional[int] = None,
    head: Optional[str] = None,
    deadline: Optional[float] = None,
    now: Optional[dt.datetime] = None,
) -> SiteReport:
    """Check one site's log. `upto`/`head`: the end to check against instead of the site's row;
    `deadline` (a time.monotonic() value): stop there with status "partial" (or red, if a problem
    was found by then) — for a web request, which must answer before its worker is timed out."""
    given = list(given)
    report = SiteReport(site.key)
    report.checked_at = now = now or utcnow()
    if upto is None:
        upto, head = db.session.execute(select(Site.log_seq, Site.log_head).where(Site.id == site.id)).one()
    previous = genesis(site.key)
    secrets = current_app.config["COOKIEGATE_SECRET_KEYS"]
    # Withdrawals and erasures must keep their revocation while a token they revoke can be shown.
    counts_from = now - dt.timedelta(days=site.consent_lifetime_days)
    counts_from_text = canonical_time(counts_from)
    revoked = _revocations(site.id)
    tombstones = _Tombstones()
    notices: dict[str, int] = {}  # banner hash -> first seq naming it

    expected: dict[int, list[Checkpoint]] = {}
    for checkpoint in [*stored(site.id, site.key), *given]:
        report.checkpoints += 1
        why = checkpoint.problem(keys)
        if why:
            report.add(checkpoint.seq, None, f"{checkpoint.origin} checkpoint signed at {_at(checkpoint)} is not valid: {why}")
            continue
        expected.setdefault(checkpoint.seq, []).append(checkpoint)
    last_matched = 0
    format_2_from = 0  # the first format-2 record: format 1 after it is a downgrade

    seq_expected = 1
    report.upto = upto
    last_banner = last_day = day_text = None
    for row in stream(site.id, upto):
        seq = row[0]
        if deadline is not None and report.records % BATCH == 0 and report.records and time.monotonic() > deadline:
            report.stopped_at = seq_expected - 1
            break
        payload = row[_PAYLOAD]
        consent_id = payload[0]
        stored_payload, stored_chain, removed, kind = row[_P], row[_C], row[_R], row[_K]
        report.records += 1
        gap = seq != seq_expected
        if gap:
            report.add(seq_expected, None, _missing(seq_expected, seq - 1))
        day = row[_D]
        if kind is None:
            if format_2_from:
                report.add(seq, consent_id, f"a format-1 record after format-2 ones (from seq {format_2_from}): "
                                            "written or rewritten outside cookiegate")
            link = chain_hash(previous, seq, stored_payload)
        elif day is None:
            format_2_from = format_2_from or seq
            link = None
        else:
            format_2_from = format_2_from or seq
            if day is not last_day:  # records of one day share its text (inlined: this loop is the cost of verify-log)
                last_day, day_text = day, day.isoformat()
            link = sha256(f"{previous}:{seq}:{kind}:{day_text}:{stored_payload}".encode("ascii")).hexdigest()
        if kind == "removal":
            report.removals += 1
            note = row[_N]
            if consent_id is not None or removed is not None or any(value is not None for value in payload):
                report.add(seq, None, "a removal record holding a payload")
            if not isinstance(note, dict) or note_hash(note) != stored_payload:
                report.add(seq, None, "removal record altered: its note does not match its payload hash")
            elif not note_is_ours(secrets, note):
                report.add(seq, None, "removal record not written by cookiegate (its MAC does not hold under the service's secret keys)")
            else:
                malformed = tombstones.removal(seq, note)
                if malformed:
                    report.add(seq, None, malformed)
                elif note["reason"] == "erase" and str(note.get("at", "")) >= counts_from_text:
                    if revoked.get(note.get("consent"), 0) < note.get("up_to_seq", seq):
                        report.add(seq, None, "the erasure's revocation is missing: the erased consent's tokens count again")
        elif consent_id is None:
            report.tombstones += 1
            if removed not in TOMBSTONE_MARKS or any(value is not None for value in payload):
                report.add(seq, None, "the consent id was removed outside erase/purge (payload partly gone)")
            elif kind is not None:
                tombstones.tombstone(seq, removed)
        else:
            if removed is not None:
                report.add(seq, consent_id, f"marked {removed!r} but still holds a payload")
            created = payload[_CREATED]
            withdrawal = payload[_METHOD] == "withdraw"
            if created is None or payload_hash(payload) != stored_payload:
                report.add(seq, consent_id, "record altered: its content does not match its payload hash")
            elif kind is not None and (kind != ("withdraw" if withdrawal else "consent") or day != created.date()):
                # created is UTC (models.UTCDateTime), so its date is the UTC day
                report.add(seq, consent_id, "record altered: its kind or day does not match its content")
            if withdrawal and created is not None and created >= counts_from:
                if revoked.get(consent_hash(consent_id), 0) < seq:
                    report.add(seq, consent_id, "the withdrawal's revocation is missing: the withdrawn consent counts again")
            banner = payload[_BANNER]
            if banner and banner != last_banner:
                notices.setdefault(banner, seq)
                last_banner = banner
        if kind not in KNOWN_KINDS:
            report.add(seq, consent_id, f"unknown record kind {kind!r}")
        if not gap and link != stored_chain:
            report.add(seq, consent_id, "chain broken: record inserted, replaced or rehashed here")
        for checkpoint in expected.pop(seq, ()):
            if checkpoint.head == stored_chain:
                last_matched = seq
                if report.signed_at is None or checkpoint.signed_at > report.signed_at:
                    report.signed_at = checkpoint.signed_at
            else:
                report.add(
                    seq, None,
                    f"does not match the {checkpoint.origin} checkpoint signed at {_at(checkpoint)}: records after seq "
                    f"{last_matched} up to {seq} were rewritten",
                )
        previous = stored_chain
        seq_expected = seq + 1
    last = seq_expected - 1
    report.first_seq, report.last_seq = 1, last
    for first, end, mark in tombstones.uncovered():
        where = f"seq {first}" if first == end else f"seqs {first}..{end}"
        report.add(first, None, f"tombstone ({mark}) at {where} that no removal record accounts for: "
                                "a record was emptied outside erase/purge")
    _check_notices(site, notices, report)
    if report.stopped_at is not None:
        # The end of the log was not reached: its checks (head, deleted tail) cannot be made.
        report.signed_upto = last_matched
        report.status = "red" if report.problem_count else "partial"
        return report

    if last < upto:
        report.add(last + 1, None, _missing(last + 1, upto) + f" (the site's head says the log ends at seq {upto})")
    elif last > 0 and head != previous:
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
    if report.records == 0 and upto == 0 and not report.problem_count and _once_signed(site, given):
        report.add(None, None, "the log is empty, but it was signed before (checkpoints or the audit trail say so): "
                               "records and checkpoints were deleted")
    report.signed_upto = last_matched
    if report.problem_count:
        report.status = "red"
    elif report.records == 0:
        report.status = "empty"
    elif report.signed_upto < last:
        report.status = "amber"
    return report


def _check_notices(site: Site, notices: dict[str, int], report: SiteReport) -> None:
    """Each banner snapshot a record names must exist and hash to its name (receipts show its text)."""
    hashes = list(notices)
    found: dict[str, dict] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        found.update(db.session.execute(select(BannerSnapshot.hash, BannerSnapshot.content).where(BannerSnapshot.hash.in_(chunk))).all())
    for digest, seq in sorted(notices.items(), key=lambda item: item[1]):
        report.notices += 1
        if digest not in found:
            report.add(seq, None, f"the banner text {digest[:16]}… the record names is missing")
        elif content_hash(found[digest]) != digest:
            report.add(seq, None, f"banner text {digest[:16]}… was rewritten: its content no longer matches its hash")


def notice_verifies(digest: str, content: Optional[dict]) -> bool:
    return content is not None and content_hash(content) == digest


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
