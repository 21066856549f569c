"""GET /api/v1/sites/<key>/stats and .../stats.csv: parse, check access, answer."""
from __future__ import annotations

from flask import Response, g, jsonify, request

from ..auth.access import require_site_access
from ..errors import ApiError
from ..extensions import db
from ..models import Site, utcnow
from ..web import fresh_request_state
from . import bp
from .csvout import to_csv
from .figures import site_stats, site_zone
from .params import InvalidParameter, parse


@bp.before_request
def _fresh() -> None:
    fresh_request_state()


def answer_for(site: Site, args) -> dict:
    today = utcnow().astimezone(site_zone(site)).date()
    try:
        query = parse(args, today)
    except InvalidParameter as error:
        raise ApiError(400, "invalid_parameter", error.message, parameter=error.parameter) from None
    return site_stats(site, query.first, query.last, query.group_by)


def _site() -> Site:
    require_site_access(g.site.id)
    site = db.session.get(Site, g.site.id)
    if site is None:
        raise ApiError(404, "unknown_site", "No site has this key.")
    return site


@bp.get("/sites/<site_key>/stats")
def stats(site_key: str) -> Response:
    response = jsonify(answer_for(_site(), request.args))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/sites/<site_key>/stats.csv")
def stats_csv(site_key: str) -> Response:
    answer = answer_for(_site(), request.args)
    filename = f"cookiegate-{answer['site']}-{answer['group_by']}-{answer['from']}-{answer['to']}.csv"
    response = Response(to_csv(answer), mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
