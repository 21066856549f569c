"""The admin console's side of the audit trail: recording a change with before/after, listing, CSV."""
from __future__ import annotations

import json
from typing import Any, Iterable, Optional

from sqlalchemy import func, select

from .. import audit_trail, csvsafe
from ..extensions import db
from ..models import AuditEvent, Site


def record(actor: str, action: str, site: Optional[Site] = None, before: Any = None, after: Any = None, **details: Any) -> None:
    """One audit event; `before` and `after` hold only what changed, so the trail reads as a diff.
    Written through cookiegate.audit_trail, as every other area's entries are."""
    audit_trail.record(actor, action, site=site, before=before, after=after, **details)


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)] + [k for k in before if k not in after]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def events(site: Optional[Site], *, page: int = 1, per_page: int = 50, action: str = "") -> tuple[list[AuditEvent], int]:
    """A page of events, newest first, of one site (or of everything without a site when None), and the total."""
    query = select(AuditEvent)
    query = query.where(AuditEvent.site_id == site.id) if site is not None else query.where(AuditEvent.site_id.is_(None))
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).offset((max(page, 1) - 1) * per_page).limit(per_page)
    ).scalars()
    return list(rows), total


def _json_cell(value: Any) -> Optional[str]:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def to_csv(rows: Iterable[AuditEvent]) -> str:
    """The trail as CSV, safe to open in a spreadsheet (csvsafe.py)."""
    lines: list[list[Any]] = [["time_utc", "actor", "action", "before", "after", "details"]]
    for event in rows:
        details = dict(event.details or {})
        before, after = details.pop("before", None), details.pop("after", None)
        lines.append([event.at.strftime("%Y-%m-%dT%H:%M:%SZ"), event.actor, event.action,
                      _json_cell(before), _json_cell(after), _json_cell(details or None)])
    return csvsafe.write(lines)


def all_events(site: Site) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent).where(AuditEvent.site_id == site.id).order_by(AuditEvent.at, AuditEvent.id)
        ).scalars()
    )
