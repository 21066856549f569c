"""The audit trail in the console: a site's (paged, filtered by action, as CSV) and the one of
changes that concern no one site (users and tokens). The queries are in cookiegate/audit_trail.py."""
from __future__ import annotations

from flask import Response, g, request

from ..audit_trail import all_events, events, to_csv
from . import bp
from .views import page

PER_PAGE = 50


@bp.get("/sites/<site_key>/audit")
def audit_trail(site_key: str) -> Response:
    try:
        page_number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page_number = 1
    action = request.args.get("action", "")[:60]
    rows, total = events(g.site, page=page_number, per_page=PER_PAGE, action=action)
    pages = max(1, -(-total // PER_PAGE))
    return page("admin/audit.html", site=g.site, rows=rows, total=total, page_number=page_number, pages=pages, action=action)


@bp.get("/sites/<site_key>/audit.csv")
def audit_csv(site_key: str) -> Response:
    response = Response(to_csv(all_events(g.site)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{g.site.key}.csv"'
    return response


@bp.get("/audit")
def audit_global() -> Response:
    """Changes that concern no one site: users and tokens."""
    try:
        page_number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page_number = 1
    rows, total = events(None, page=page_number, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    return page("admin/audit.html", site=None, rows=rows, total=total, page_number=page_number, pages=pages, action="")
