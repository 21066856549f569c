"""Signed checkpoints: a site's log head (seq, chain hash, time) signed with the Ed25519 key.

A checkpoint is one line of text that can be published, e-mailed or archived elsewhere:

    cookiegate-checkpoint/1 site=KEY seq=N head=HEX at=2026-11-30T01:00:00Z key=KEYID sig=BASE64URL

The signature covers everything before " sig=" (UTF-8). Anyone with the public key
(`cookiegate checkpoint-key`) can check a line without cookiegate; docs/proof.md shows how
with OpenSSL. Someone who can write to the database but lacks the key cannot rewrite any
record at or before a checkpoint without `verify-log` seeing it.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from sqlalchemy import select

from .. import audit_trail
from ..extensions import db
from ..models import LogCheckpoint, Site, utcnow
from .keys import CheckpointKeys, key_id

PREFIX = "cookiegate-checkpoint/1"
LINE = re.compile(
    r"^cookiegate-checkpoint/1 site=(?P<site>[A-Za-z0-9_-]{1,32}) seq=(?P<seq>[0-9]{1,18}) "
    r"head=(?P<head>[0-9a-f]{64}) at=(?P<at>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z) "
    r"key=(?P<key>[0-9a-f]{16}) sig=(?P<sig>[A-Za-z0-9_-]{86})$"
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Checkpoint:
    site: str
    seq: int
    head: str
    signed_at: dt.datetime
    key: str
    signature: str
    # "stored" (log_checkpoints) or "given" (a line passed to verify-log).
    origin: str = "stored"

    def message(self) -> bytes:
        at = self.signed_at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{PREFIX} site={self.site} seq={self.seq} head={self.head} at={at} key={self.key}".encode("utf-8")

    def line(self) -> str:
        return f"{self.message().decode('utf-8')} sig={self.signature}"

    def problem(self, keys: CheckpointKeys) -> Optional[str]:
        """None when the signature holds; else why not."""
        try:
            signature = _unb64(self.signature)
        except (binascii.Error, ValueError):
            return "the signature is not base64url"
        return keys.verify(self.key, signature, self.message())

    @classmethod
    def of(cls, row: LogCheckpoint, site_key: str) -> "Checkpoint":
        return cls(site_key, row.seq, row.head, row.signed_at, row.key_id, row.signature)


def parse_line(text: str) -> Checkpoint:
    """A checkpoint line as printed by `checkpoint`; ValueError saying what is wrong."""
    match = LINE.match(text.strip())
    if match is None:
        raise ValueError(f"not a checkpoint line (expected '{PREFIX} site=… seq=… head=… at=… key=… sig=…')")
    at = dt.datetime.strptime(match["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return Checkpoint(match["site"], int(match["seq"]), match["head"], at, match["key"], match["sig"], origin="given")


def sign(keys: CheckpointKeys, site_key: str, seq: int, head: str, at: Optional[dt.datetime] = None) -> Checkpoint:
    private = keys.signer()
    at = (at or utcnow()).astimezone(dt.timezone.utc).replace(microsecond=0)
    unsigned = Checkpoint(site_key, seq, head, at, key_id(private.public_key()), "")
    signature = _b64(private.sign(unsigned.message()))
    return Checkpoint(site_key, seq, head, at, unsigned.key, signature)


def stored(site_id: int, site_key: str) -> list[Checkpoint]:
    rows = db.session.execute(
        select(LogCheckpoint).where(LogCheckpoint.site_id == site_id).order_by(LogCheckpoint.seq, LogCheckpoint.id)
    ).scalars()
    return [Checkpoint.of(row, site_key) for row in rows]


def latest(site_id: int, site_key: str) -> Optional[Checkpoint]:
    row = db.session.execute(
        select(LogCheckpoint)
        .where(LogCheckpoint.site_id == site_id)
        .order_by(LogCheckpoint.seq.desc(), LogCheckpoint.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return Checkpoint.of(row, site_key) if row is not None else None


def covering(site_id: int, site_key: str, seq: int) -> Optional[Checkpoint]:
    """The earliest checkpoint at or after `seq`: the one that vouches for that record."""
    row = db.session.execute(
        select(LogCheckpoint)
        .where(LogCheckpoint.site_id == site_id, LogCheckpoint.seq >= seq)
        .order_by(LogCheckpoint.seq, LogCheckpoint.id)
        .limit(1)
    ).scalar_one_or_none()
    return Checkpoint.of(row, site_key) if row is not None else None


@dataclass
class CheckpointResult:
    site: str
    checkpoint: Optional[Checkpoint]
    # "signed", "unchanged" (the last checkpoint still names the head), "empty", or "refused".
    outcome: str
    problems: list = None  # verify.Problem, when refused


def checkpoint_site(site: Site, keys: CheckpointKeys, actor: str, now: Optional[dt.datetime] = None) -> CheckpointResult:
    """Verify the records since the last checkpoint, then sign the head and store the checkpoint.

    A head is signed only if the chain up to it verifies from the previous checkpoint on, so a
    tampered log is never blessed. The caller commits.
    """
    from .verify import verify_site  # verify imports this module

    keys.signer()  # fail before reading anything when there is no key
    from .verify import Problem

    seq, head = db.session.execute(select(Site.log_seq, Site.log_head).where(Site.id == site.id)).one()
    if seq == 0:
        return CheckpointResult(site.key, None, "empty")
    # Anchor only on a checkpoint whose signature holds: a row forged into the table must not
    # let a rewritten stretch of the log go unchecked, let alone be signed.
    forged = [(c, why) for c in stored(site.id, site.key) if (why := c.problem(keys))]
    if forged:
        problems = [Problem(c.seq, None, f"stored checkpoint signed at {c.signed_at:%Y-%m-%dT%H:%M:%SZ} is not valid: {why}") for c, why in forged]
        return CheckpointResult(site.key, None, "refused", problems)
    previous = latest(site.id, site.key)
    if previous is not None and previous.seq == seq and previous.head == head:
        return CheckpointResult(site.key, previous, "unchanged")
    report = verify_site(site, keys, anchor=previous, upto=seq, head=head)
    if report.status == "red":
        return CheckpointResult(site.key, None, "refused", report.problems)
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
    sites: Iterable[Site], keys: CheckpointKeys, actor: str, progress: Optional[Callable[[CheckpointResult], None]] = None
) -> list[CheckpointResult]:
    results = []
    for site in sites:
        result = checkpoint_site(site, keys, actor)
        db.session.commit()  # one short transaction per site
        results.append(result)
        if progress:
            progress(result)
    return results
