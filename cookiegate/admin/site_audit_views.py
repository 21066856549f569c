"""A site's pre-consent audits: the history and one audit with its declaration difference.
Readable by admins and by the users with access to the site (marketers of other sites get 403)."""
from __future__ import annotations

from flask import Response, abort, g, request

from ..i18n import ui_language
from . import bp, open_to_site_users
from .site_audits import detail, history
from .views import page

PER_PAGE = 20


@bp.get("/sites/<site_key>/audits")
@open_to_site_users
def site_audits(site_key: str) -> Response:
    try:
        page_number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page_number = 1
    rows, total = history(g.site, page=page_number, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return page("admin/site_audits.html", site=g.site, rows=rows, total=total, page_number=page_number, pages=pages)


@bp.get("/sites/<site_key>/audits/<int:audit_id>")
@open_to_site_users
def site_audit(site_key: str, audit_id: int) -> Response:
    audit = detail(g.site, audit_id, ui_language())
    if audit is None:
        abort(404)
    return page("admin/site_audit.html", site=g.site, audit=audit)
