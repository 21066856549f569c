"""The history of a site's pre-consent audits as the console shows it: a page of summaries,
newest first, and one audit in full with the declaration difference against the site's
declaration as it is now (not as it was when the audit ran: the question is what to fix).

Plain functions over the stored reports (cookiegate.siteaudit.store); the views only render them.
A stored report came from a browser run against someone's website: every value in it is
hostile text to the console (escaped by the templates) and may lack a field, so nothing here
trusts its shape.
"""
from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import func, select

from ..extensions import db
from ..models import Site, SiteAudit
from ..siteaudit.report import declaration_diff
from ..siteaudit.store import declaration_of

PASSES = ("no_choice", "rejected", "accepted")
FINDING_FIELDS = ("kind", "name", "host", "category", "page")


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _localised(value: Any, language: str) -> str:
    """A {"en", "da"} text of the report in the reader's language (older reports have none)."""
    if isinstance(value, dict):
        return _text(value.get(language) or value.get("en"))
    return _text(value)


def _finding(item: Any, language: str = "en") -> dict[str, str]:
    item = _dict(item)
    found = {field: _text(item.get(field)) for field in FINDING_FIELDS}
    found.update(
        provider=_text(item.get("provider")),
        purpose=_localised(item.get("purpose"), language),
        how_to_fix=_localised(item.get("how_to_fix"), language),
    )
    return found


def _passes(report: dict[str, Any], language: str = "en") -> list[dict[str, Any]]:
    """The three passes in their order, each with its verdict, findings and whether its click was recorded."""
    out = []
    for entry in _list(report.get("passes")):
        entry = _dict(entry)
        findings = [_finding(f, language) for f in _list(entry.get("findings"))]
        choice = _dict(entry.get("choice"))
        out.append({
            "name": _text(entry.get("name")),
            "verdict": "fail" if entry.get("verdict") == "fail" else "pass",
            "findings": findings,
            "error": _text(entry.get("error")),
            "choice_refused": _text(choice.get("reason")) if choice and not choice.get("recorded") else "",
        })
    order = {name: i for i, name in enumerate(PASSES)}
    return sorted(out, key=lambda p: order.get(p["name"], len(order)))


def summary(audit: SiteAudit) -> dict[str, Any]:
    """One line of the history: when, URL, pages, the verdict and each pass's verdict and finding count."""
    report = _dict(audit.report)
    return {
        "id": audit.id,
        "created_at": audit.created_at,
        "url": audit.url,
        "pages": len(_list(report.get("pages"))),
        "verdict": "fail" if audit.verdict == "fail" else "pass",
        "passes": [{"name": p["name"], "verdict": p["verdict"], "findings": len(p["findings"])} for p in _passes(report)],
    }


def history(site: Site, *, page: int = 1, per_page: int = 20) -> tuple[list[dict[str, Any]], int]:
    """A page of the site's audits (summaries), newest first, and how many there are."""
    where = SiteAudit.site_id == site.id
    total = db.session.execute(select(func.count()).select_from(SiteAudit).where(where)).scalar_one()
    rows = db.session.execute(
        select(SiteAudit).where(where).order_by(SiteAudit.created_at.desc(), SiteAudit.id.desc())
        .offset((max(page, 1) - 1) * per_page).limit(per_page)
    ).scalars()
    return [summary(audit) for audit in rows], total


def _observed(report: dict[str, Any]) -> list[dict[str, Any]]:
    """What each pass (and each preset-token pass) saw of cookies and storage, in the shape
    report.declaration_diff reads."""
    entries = _list(report.get("passes")) + _list(_dict(report.get("token_check")).get("passes"))
    out = []
    for entry in entries:
        observed = _dict(_dict(entry).get("observed"))
        out.append({"observed": {
            kind: [
                {"name": _text(i.get("name")), "host": _text(i.get("host")), "category": _text(i.get("category")),
                 "classified_by": _text(i.get("classified_by"))}
                for i in map(_dict, _list(observed.get(kind)))
                if i.get("name")
            ]
            for kind in ("cookies", "storage")
        }})
    return out


def difference(site: Site, report: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Cookies and storage keys the audit saw that the site does not declare (undeclared), and
    declared ones it did not see (unseen), against the site's current declaration."""
    diff = declaration_diff(declaration_of(site), _observed(_dict(report)))
    return {"undeclared": diff["undeclared"], "unseen": diff["unseen"]}


def _distinct(report: dict[str, Any]) -> Optional[int]:
    """How many findings, each counted once (reports since issue 22); None for older reports."""
    count = _dict(report.get("summary")).get("distinct_findings")
    return count if type(count) is int else None


def detail(site: Site, audit_id: int, language: str = "en") -> Optional[dict[str, Any]]:
    """One audit of this site in full, or None (also for another site's audit); the report's
    purposes and fixes in `language` where it has them."""
    audit = db.session.execute(
        select(SiteAudit).where(SiteAudit.id == audit_id, SiteAudit.site_id == site.id)
    ).scalar_one_or_none()
    if audit is None:
        return None
    report = _dict(audit.report)
    token_check = _dict(report.get("token_check"))
    stored = _dict(report.get("declaration"))
    return {
        **summary(audit),
        "pages_list": [_text(p) for p in _list(report.get("pages"))],
        "started_at": _text(report.get("started_at")),
        "passes": _passes(report, language),
        "distinct": _distinct(report),
        "token_passes": [
            {"name": _text(t.get("name")), "verdict": "fail" if t.get("verdict") == "fail" else "pass",
             "same": bool(t.get("same")), "findings": [_finding(f, language) for f in _list(t.get("findings"))]}
            for t in map(_dict, _list(token_check.get("passes")))
        ],
        "declaration": difference(site, report),
        # What the report said at the time, to show when the declaration has changed since.
        "declaration_then": {"undeclared": len(_list(stored.get("undeclared"))), "unseen": len(_list(stored.get("unseen")))},
    }
