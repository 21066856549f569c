"""Tamper evidence for the consent log: a hash chain per site.

Each record's `content_hash` covers its own fields and the previous record's
hash (`prev_hash`), and `seq` numbers the chain without gaps, so an altered,
inserted or deleted record breaks the chain from that point on.
"""
from __future__ import annotations

import hashlib
import json

from .models import ConsentRecord

HASHED_FIELDS = (
    "consent_id",
    "seq",
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
    "prev_hash",
)


def record_digest(record: ConsentRecord, site_key: str) -> str:
    fields = {name: getattr(record, name) for name in HASHED_FIELDS}
    fields["site"] = site_key
    fields["created_at"] = record.created_at.isoformat(timespec="microseconds")
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
