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
  proof.ledger.consent_hash), an address, a token or a password.

`entries(site=None, action=None, limit=100)` reads the newest entries first.
"""
from __future__ import annotations

import getpass
from typing import Any, Optional, Union

from sqlalchemy import select

from .extensions import db
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
