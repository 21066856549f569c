"""Dashboard views: parse the request, call the stats functions, render."""
from __future__ import annotations

from flask import Response, g, render_template
from flask_login import current_user

from ..auth.access import login_required, site_access_required, visible_sites
from . import bp


@bp.get("/")
@login_required
def index() -> Response:
    return Response(render_template("dashboard/index.html", sites=visible_sites(current_user)))


@bp.get("/<site_key>/")
@site_access_required
def site(site_key: str) -> Response:
    return Response(render_template("dashboard/site.html", site=g.site))
