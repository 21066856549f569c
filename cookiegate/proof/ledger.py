"""The consent log: its hash format and its append path (taking the next seq, sealing, moving
the site's head), beside verify.py, which checks what is written here.

Each record has two hashes:
- `payload_hash`: SHA-256 over the record's personal fields (PAYLOAD_FIELDS), canonical JSON.
  The fields include the 128-bit random consent id, so the hash cannot be reversed by
  guessing the (few) possible choices. A removal record's payload is its `note`.
- `chain_hash`: SHA-256 over the previous chain hash, seq, and the payload hash; from format 2
  on also over the record's kind ("consent", "withdraw", "removal") and its UTC day. The first
  record of a site chains from a genesis value derived from the site key, so records cannot be
  moved between sites.

Erasing or purging a record removes its payload and keeps a tombstone: seq, hashes and, in
format 2, the kind and day, so a tombstone still shows that it was a withdrawal and when. The
erase or purge appends a removal record naming the seqs it emptied, why, and who (a keyed
hash), with a MAC under the service's secret keys; verify.py goes red for a format-2 tombstone
no removal record covers. Format-1 records (kind NULL, written before format 2) verify as before.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Iterable, Mapping, Optional, Sequence

from sqlalchemy import bindparam, update

from ..extensions import db
from ..models import ConsentRecord, Site

FORMAT = 2
KINDS = ("consent", "withdraw", "removal")

# The personal part of a record, in hashing order. Tombstones have all of these NULL.
PAYLOAD_FIELDS = (
    "consent_id",
    "created_at",
    "policy_version",
    "choices",
    "method",
    "language",
    "page_url",
    "gpc",
    "country",
    "region",
    "city",
    "device_type",
    "browser_family",
    "os_family",
    "is_bot",
    "banner_hash",
)
CREATED_AT = PAYLOAD_FIELDS.index("created_at")
METHOD = PAYLOAD_FIELDS.index("method")

_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _not_json(value: Any) -> Any:
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# The same canonical JSON as _encoder.encode, with the C encoder made once instead of per call
# (verify-log hashes every record: this is most of its cost).
_c_encoder = c_make_encoder(None, _not_json, encode_basestring, None, ":", ",", True, False, True) if c_make_encoder else None


def _canonical(value: Any) -> str:
    return "".join(_c_encoder(value, 0)) if _c_encoder is not None else _encoder.encode(value)


def canonical_time(moment: dt.datetime) -> str:
    if moment.tzinfo is not dt.timezone.utc:  # what the database hands back is UTC already
        moment = moment.astimezone(dt.timezone.utc)
    return moment.isoformat(timespec="microseconds")


def payload_hash(values: Sequence[Any]) -> str:
    """Hash of a record's payload; `values` in PAYLOAD_FIELDS order, created_at an aware datetime."""
    items = list(values)
    items[CREATED_AT] = canonical_time(items[CREATED_AT])
    return hashlib.sha256(_canonical(items).encode("utf-8")).hexdigest()


def payload_values(record: Mapping[str, Any] | Any) -> list[Any]:
    """The payload of a record given as a mapping or an object with attributes."""
    if isinstance(record, Mapping):
        return [record[name] for name in PAYLOAD_FIELDS]
    return [getattr(record, name) for name in PAYLOAD_FIELDS]


def genesis(site_key: str) -> str:
    """What the first record of a site chains from."""
    # Unchanged since format 1, so a site's chain goes on from its format-1 records.
    return hashlib.sha256(f"cookiegate-log/1:{site_key}".encode("utf-8")).hexdigest()


def chain_hash(previous: str, seq: int, payload: str, kind: Optional[str] = None, day: Optional[dt.date] = None) -> str:
    """Format 2 when `kind` is given (with `day`), else format 1."""
    if kind is None:
        return hashlib.sha256(f"{previous}:{seq}:{payload}".encode("ascii")).hexdigest()
    return hashlib.sha256(f"{previous}:{seq}:{kind}:{day.isoformat()}:{payload}".encode("ascii")).hexdigest()


def kind_of(method: Optional[str]) -> str:
    return "withdraw" if method == "withdraw" else "consent"


def day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.timezone.utc).date()


def seal(site_key: str, previous: str, seq: int, values: Sequence[Any]) -> tuple[str, str, str, dt.date]:
    """(payload hash, chain hash, kind, day) of a new record; `previous` is the site's head ('' for none)."""
    payload = payload_hash(values)
    kind, day = kind_of(values[METHOD]), day_of(values[CREATED_AT])
    return payload, chain_hash(previous or genesis(site_key), seq, payload, kind, day), kind, day


def seal_many(site_key: str, previous: str, first_seq: int, payloads: Iterable[Sequence[Any]], format: int = FORMAT):
    """Yield (seq, payload hash, chain hash) for consecutive records (bulk loads, migrations);
    format 2 derives each record's kind and day from its method and time."""
    head = previous or genesis(site_key)
    seq = first_seq
    for values in payloads:
        payload = payload_hash(values)
        if format == 1:
            head = chain_hash(head, seq, payload)
        else:
            head = chain_hash(head, seq, payload, kind_of(values[METHOD]), day_of(values[CREATED_AT]))
        yield seq, payload, head
        seq += 1


# --- removal records -------------------------------------------------------------------------

def note_hash(note: Mapping[str, Any]) -> str:
    """A removal record's payload hash: over its note, canonical JSON."""
    return hashlib.sha256(_canonical(note).encode("utf-8")).hexdigest()


def _mac(secret: str, note: Mapping[str, Any]) -> str:
    unsigned = {name: value for name, value in note.items() if name != "mac"}
    return hmac.new(f"cookiegate-removal:{secret}".encode("utf-8"), _canonical(unsigned).encode("utf-8"), "sha256").hexdigest()


def keyed_hash(secret: str, text: str) -> str:
    """Who removed, named without naming them: HMAC under the service's secret key."""
    return hmac.new(f"cookiegate-actor:{secret}".encode("utf-8"), text.encode("utf-8"), "sha256").hexdigest()[:32]


def removal_note(secrets: Sequence[str], reason: str, ranges: Sequence[Sequence[int]], actor: str, at: dt.datetime,
                 **facts: Any) -> dict[str, Any]:
    """What a removal record says; its MAC (the last secret key) shows cookiegate wrote it, not SQL."""
    note = {"reason": reason, "seqs": [list(r) for r in ranges], "by": keyed_hash(secrets[-1], actor),
            "at": canonical_time(at), **facts}
    note["mac"] = _mac(secrets[-1], note)
    return note


def note_is_ours(secrets: Sequence[str], note: Mapping[str, Any]) -> bool:
    """Any of the service's secret keys (old ones stay listed after a rotation) made the MAC."""
    mac = note.get("mac")
    return isinstance(mac, str) and any(hmac.compare_digest(mac, _mac(secret, note)) for secret in secrets)


def runs(seqs: Iterable[int]) -> list[list[int]]:
    """Sorted seqs as [first, last] runs: what a removal record names."""
    out: list[list[int]] = []
    for seq in sorted(seqs):
        if out and seq == out[-1][1] + 1:
            out[-1][1] = seq
        else:
            out.append([seq, seq])
    return out


# --- the append path -------------------------------------------------------------------------
# Statements built once: on the hottest write path the ORM's unit of work and per-request
# statement construction cost more than the database does.
_sites, _records = Site.__table__, ConsentRecord.__table__
TAKE_NEXT_SEQ = (
    update(_sites)
    .where(_sites.c.id == bindparam("site_id"))
    .values(log_seq=_sites.c.log_seq + 1)
    .returning(_sites.c.log_seq, _sites.c.log_head, _sites.c.policy_version)
)
# The demo and bulk imports take a run of sequence numbers at once.
TAKE_SEQS = (
    update(_sites)
    .where(_sites.c.id == bindparam("site_id"))
    .values(log_seq=_sites.c.log_seq + bindparam("count"))
    .returning(_sites.c.log_seq, _sites.c.log_head, _sites.c.policy_version)
)
INSERT_RECORD = _records.insert()
SET_HEAD = update(_sites).where(_sites.c.id == bindparam("site_id")).values(log_head=bindparam("head"))
# Every column but the autoincrement id.
INSERTED_COLUMNS = tuple(c.name for c in _records.columns if c.name != "id")


def take_next(site_id: int) -> tuple[int, str, int]:
    """(seq, previous head, policy version): taking the site row first serialises the chain
    (and, on SQLite, takes the write lock before anything is read)."""
    return tuple(db.session.execute(TAKE_NEXT_SEQ, {"site_id": site_id}).one())  # type: ignore[return-value]


def take_run(site_id: int, count: int) -> tuple[int, str, int]:
    """(first seq, previous head, policy version) of `count` consecutive seqs."""
    last, head, version = db.session.execute(TAKE_SEQS, {"site_id": site_id, "count": count}).one()
    return last - count + 1, head, version


def seal_record(site_key: str, previous: str, record: Any) -> Any:
    """Set a new record's kind, day and hashes (an object with the record's columns as attributes)."""
    record.payload_hash, record.chain_hash, record.kind, record.day = seal(site_key, previous, record.seq, payload_values(record))
    record.note = None
    return record


def write(site_id: int, records: Sequence[Any]) -> None:
    """Insert sealed records (in seq order) and move the site's head to the last; the caller commits."""
    rows = [{column: getattr(record, column) for column in INSERTED_COLUMNS} for record in records]
    db.session.execute(INSERT_RECORD, rows if len(rows) > 1 else rows[0])
    db.session.execute(SET_HEAD, {"site_id": site_id, "head": records[-1].chain_hash})


def append_removal(site_id: int, site_key: str, note: dict[str, Any], at: dt.datetime) -> int:
    """Append a removal record after the records it names; its seq. The caller commits."""
    seq, previous, _ = take_next(site_id)
    payload = note_hash(note)
    day = day_of(at)
    head = chain_hash(previous or genesis(site_key), seq, payload, "removal", day)
    row = dict.fromkeys(INSERTED_COLUMNS)
    row.update(site_id=site_id, seq=seq, payload_hash=payload, chain_hash=head, kind="removal", day=day, note=note)
    db.session.execute(INSERT_RECORD, row)
    db.session.execute(SET_HEAD, {"site_id": site_id, "head": head})
    return seq
