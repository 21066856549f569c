"""The history of audits per site (for the admin console): saved reports, newest first."""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import select

from ..extensions import db
from ..models import AuditEvent, Site, SiteAudit
from ..sites import public_config
from .classify import Declaration


def declaration_of(site: Site) -> Declaration:
    """What the site's banner declares, read from the database (the same content its config serves)."""
    return Declaration.from_config(public_config(site, site.default_language), "database")


def save_audit(site: Site, report: dict[str, Any], actor: str = "cli") -> SiteAudit:
    """Keep a report in the site's history; the caller commits."""
    audit = SiteAudit(site_id=site.id, url=report["url"][:2048], verdict=report["verdict"], report=report)
    db.session.add(audit)
    db.session.add(AuditEvent(actor=actor, action="site.audit", site_id=site.id, details={"verdict": report["verdict"]}))
    db.session.flush()
    return audit


def audits_of(site: Site, limit: Optional[int] = 50) -> list[SiteAudit]:
    query = select(SiteAudit).where(SiteAudit.site_id == site.id).order_by(SiteAudit.created_at.desc(), SiteAudit.id.desc())
    return list(db.session.execute(query.limit(limit)).scalars())
