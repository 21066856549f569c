"""Signed checkpoints: a site's log head (seq, chain hash, time) signed with the Ed25519 key.

A checkpoint is one line of text that can be published, e-mailed or archived elsewhere:

    cookiegate-checkpoint/1 site=KEY seq=N head=HEX at=2026-11-30T01:00:00Z key=KEYID sig=BASE64URL

The signature covers everything before " sig=" (UTF-8). Anyone with the public key
(`cookiegate checkpoint-key`) can check a line without cookiegate; docs/proof.md shows how
with OpenSSL. Someone who can write to the database but lacks the key cannot rewrite any
record at or before a checkpoint without `verify-log` seeing it.

This module is the format and the signature; schedule.py is the job that verifies and signs.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select

from ..extensions import db
from ..models import LogCheckpoint, utcnow
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


def published(site_id: int, site_key: str, limit: int = 1000) -> list[Checkpoint]:
    """The newest `limit` checkpoints, oldest first: what the public archive URL lists."""
    rows = db.session.execute(
        select(LogCheckpoint).where(LogCheckpoint.site_id == site_id)
        .order_by(LogCheckpoint.seq.desc(), LogCheckpoint.id.desc()).limit(limit)
    ).scalars().all()
    return [Checkpoint.of(row, site_key) for row in reversed(rows)]
