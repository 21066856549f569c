"""Appending many records at once, sealed by the same ledger functions as the write path.

For imports, the demo, tests and benchmarks (a million records in seconds, not via HTTP).
The site row is locked while the batch is appended, so the chain stays one line even
with consents arriving meanwhile.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from sqlalchemy import update

from ..extensions import db
from ..models import ConsentRecord, Site
from .ledger import PAYLOAD_FIELDS, day_of, kind_of, seal_many

_records, _sites = ConsentRecord.__table__, Site.__table__
DEFAULTS = {
    "language": "", "page_url": "", "gpc": False, "country": "", "region": "", "city": "",
    "device_type": "", "browser_family": "", "os_family": "", "is_bot": False, "banner_hash": "",
}


def append(site_id: int, site_key: str, rows: Iterable[Mapping[str, Any]], chunk: int = 10_000) -> int:
    """Append rows (dicts with PAYLOAD_FIELDS; missing optional fields take their defaults) to
    the site's chain in this order, in the current transaction; the caller commits. Returns the count."""
    rows = [{**DEFAULTS, **row} for row in rows]
    if not rows:
        return 0
    seq, head = db.session.execute(
        update(_sites).where(_sites.c.id == site_id).values(log_seq=_sites.c.log_seq).returning(_sites.c.log_seq, _sites.c.log_head)
    ).one()
    sealed = seal_many(site_key, head, seq + 1, ([row[name] for name in PAYLOAD_FIELDS] for row in rows))
    batch = []
    for row, (row_seq, payload, head) in zip(rows, sealed):
        batch.append({**row, "site_id": site_id, "seq": row_seq, "payload_hash": payload, "chain_hash": head,
                      "kind": kind_of(row["method"]), "day": day_of(row["created_at"])})
        if len(batch) >= chunk:
            db.session.execute(_records.insert(), batch)
            batch = []
    if batch:
        db.session.execute(_records.insert(), batch)
    db.session.execute(update(_sites).where(_sites.c.id == site_id).values(log_seq=seq + len(rows), log_head=head))
    return len(rows)
