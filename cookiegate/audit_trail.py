"""The audit trail: who did what, when, to which site (never visitors' data).

One call per action, inside the caller's transaction (the caller commits, so the entry is
kept exactly when the change is):

    from cookiegate import audit_trail
    audit_trail.record("cli:alice", "site.bump_policy", site=site, before={"policy_version": 3},
                       after={"policy_version": 4})

- `actor`: who: "cli:<unix user>" for commands (audit_trail.cli_actor()), a user's e-mail for
  the console, "demo" for sample data.
- `action`: "<area>.<verb>", e.g. "consent.erase", "log.purge", "log.checkpoint",
  "site.bump_policy", "user.create", "token.create", "token.revoke".
- `site`: a Site (or its id), when the action concerns one.
- `before` / `after`: the changed values, for the console to show a difference.
- `**details`: anything else that says what happened. Never a consent id (use
  infra.signing.consent_hash), an address, a token or a password.

Reading it: `entries(site=None, action=None, limit=100)`, the newest first; `events(site, page=...)`,
a page of one site's (or of the site-less) events with the total, as the console shows them;
`to_csv(rows)`, the trail as a spreadsheet-safe CSV. `diff(before, after)` keeps what changed.
"""
from __future__ import annotations

import getpass
import json
from typing import Any, Iterable, Optional, Union

from sqlalchemy import func, select

from .extensions import db
from .infra import csvsafe
from .models import AuditEvent, Site, utcnow


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (containers)
        return "cli"


def record(
    actor: str,
    action: str,
    site: Union[Site, int, None] = None,
    before: Optional[dict[str, Any]] = None,
    after: Optional[dict[str, Any]] = None,
    **details: Any,
) -> AuditEvent:
    """Add one entry to the session (the caller commits with its change)."""
    payload = dict(details)
    if before is not None:
        payload["before"] = before
    if after is not None:
        payload["after"] = after
    site_id = site.id if isinstance(site, Site) else site
    event = AuditEvent(at=utcnow(), actor=actor, action=action, site_id=site_id, details=payload)
    db.session.add(event)
    return event


def entries(site: Union[Site, int, None] = None, action: Optional[str] = None, limit: int = 100) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if site is not None:
        query = query.where(AuditEvent.site_id == (site.id if isinstance(site, Site) else site))
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(db.session.execute(query).scalars())


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
    """The trail as CSV, safe to open in a spreadsheet (infra/csvsafe.py)."""
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
