"""The consent log's hash format (format 1).

Each record has two hashes:
- `payload_hash`: SHA-256 over the record's personal fields (PAYLOAD_FIELDS), canonical JSON.
  The fields include the 128-bit random consent id, so the hash cannot be reversed by
  guessing the (few) possible choices.
- `chain_hash`: SHA-256 over (previous chain hash, seq, payload hash). The first record of a
  site chains from a genesis value derived from the site key, so records cannot be moved
  between sites.

Erasing or purging a record removes its payload and keeps a tombstone (seq, payload hash,
chain hash): the chain still verifies end to end, and a signed checkpoint covering the
tombstone still holds. Everything here is a pure function; verify.py, the write path and
the benchmarks all call the same ones.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Iterable, Mapping, Sequence

FORMAT = 1

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

_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


def payload_hash(values: Sequence[Any]) -> str:
    """Hash of a record's payload; `values` in PAYLOAD_FIELDS order, created_at an aware datetime."""
    items = list(values)
    items[CREATED_AT] = canonical_time(items[CREATED_AT])
    return hashlib.sha256(_encoder.encode(items).encode("utf-8")).hexdigest()


def payload_values(record: Mapping[str, Any] | Any) -> list[Any]:
    """The payload of a record given as a mapping or an object with attributes."""
    if isinstance(record, Mapping):
        return [record[name] for name in PAYLOAD_FIELDS]
    return [getattr(record, name) for name in PAYLOAD_FIELDS]


def genesis(site_key: str) -> str:
    """What the first record of a site chains from."""
    return hashlib.sha256(f"cookiegate-log/{FORMAT}:{site_key}".encode("utf-8")).hexdigest()


def chain_hash(previous: str, seq: int, payload: str) -> str:
    return hashlib.sha256(f"{previous}:{seq}:{payload}".encode("ascii")).hexdigest()


def seal(site_key: str, previous: str, seq: int, values: Sequence[Any]) -> tuple[str, str]:
    """(payload hash, chain hash) of a new record; `previous` is the site's head ('' for none)."""
    payload = payload_hash(values)
    return payload, chain_hash(previous or genesis(site_key), seq, payload)


def seal_many(site_key: str, previous: str, first_seq: int, payloads: Iterable[Sequence[Any]]):
    """Yield (seq, payload hash, chain hash) for consecutive records (bulk loads, migrations)."""
    head = previous or genesis(site_key)
    seq = first_seq
    for values in payloads:
        payload = payload_hash(values)
        head = chain_hash(head, seq, payload)
        yield seq, payload, head
        seq += 1


def consent_hash(consent_id: str) -> str:
    """One-way name of a consent id, where the id itself must not be kept (erasure, audit)."""
    return hashlib.sha256(consent_id.encode("utf-8")).hexdigest()
