"""The audit's side of this service's database: a site's declaration, preset tokens for the
returning-visitor check, and saving a report in the site's history (the console reads it through
admin/site_audits.py)."""
from __future__ import annotations

from typing import Any

from ..consents import new_consent_id, token_for, validate_consent
from ..extensions import db
from ..infra.signing import signer
from ..models import AuditEvent, ConsentRecord, Site, SiteAudit, utcnow
from ..sites.banner_config import public_config
from ..sites.cache import snapshot
from .classify import Declaration


def declaration_of(site: Site) -> Declaration:
    """What the site's banner declares, read from the database (the same content its config serves)."""
    return Declaration.from_config(public_config(site, site.default_language), "database")


def preset_tokens(site: Site) -> dict[str, str]:
    """A real consent token for "Reject all" and one for "Accept all", signed here with this
    service's keys exactly as the API answers the audit (which it never logs): with `--site` the
    audit asks no address the audited page names (docs/audit.md)."""
    state = snapshot(site)
    tokens = {}
    for name, method in (("rejected", "reject_all"), ("accepted", "accept_all")):
        request = validate_consent(state, {"method": method, "choices": {}, "policy_version": state.policy_version}, signer())
        record = ConsentRecord(
            consent_id=new_consent_id(), site_id=state.id, seq=0, created_at=utcnow(), policy_version=state.policy_version,
            choices=request.choices, method=method,
        )
        tokens[name] = token_for(record, state, signer())
    return tokens


def save_audit(site: Site, report: dict[str, Any], actor: str = "cli") -> SiteAudit:
    """Keep a report in the site's history; the caller commits."""
    audit = SiteAudit(site_id=site.id, url=report["url"][:2048], verdict=report["verdict"], report=report)
    db.session.add(audit)
    db.session.add(AuditEvent(actor=actor, action="site.audit", site_id=site.id, details={"verdict": report["verdict"]}))
    db.session.flush()
    return audit
