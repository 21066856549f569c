"""GET /api/v1/sites/<key>/stats and .../stats.csv: a site's consent statistics (login or Bearer token)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from flask import Response, g, jsonify, request
from pydantic import BaseModel

from ..auth.access import require_site_access
from ..errors import ApiError
from ..extensions import db
from ..models import Site, utcnow
from ..stats.csvout import to_csv
from ..stats.figures import site_stats, site_zone
from ..stats.params import InvalidParameter, StatsParams, parse
from ..stats.rollup import catch_up
from ..web import fresh_request_state
from . import bp
from .common import UNKNOWN_SITE, error
from .contract import Answer, Header, operation

FORMULAS = (
    "Figures (JSON, CSV and dashboard alike):\n"
    "- `consents`: records with method `accept_all`, `reject_all` or `custom`; withdrawals are counted in `withdraw`, not in `consents`.\n"
    "- `granted[c]`: consents whose choices granted category c. `rates[c] = granted[c] / consents`.\n"
    "- `interaction = consents / impressions`; an impression is the banner shown by itself to a visitor without a "
    "valid choice (not a reopening of the settings).\n"
    "- A rate whose denominator is 0 is `null`. Rates are rounded to 4 decimals.\n"
    "- Records flagged as bots are left out (they stay in the consent log); so are bots' impressions.\n"
    "- `from` and `to` are inclusive days in the site's time zone (`timezone`, default Europe/Copenhagen); default: the last 30 days "
    "up to today. `previous` is the period of the same length just before.\n"
    "- Privacy floor: in attribute groupings (every `group_by` but day, week, month) a row with fewer records (consents + "
    "withdrawals) than `min_group_size` is merged into the row with key `other`; totals stay exact. Unknown values have key `unknown`.\n"
    "- Rows of `city` carry `country`; `impressions` is known per row only for day, week, month, country and device (else null).\n"
    "- Figures are exact and current: they equal a GROUP BY over the raw records, including a consent recorded a moment ago, "
    "and do not change when `purge` or `erase` removes raw records (they are kept as rollups)."
)


class Counts(BaseModel):
    impressions: Optional[int]
    consents: int
    accept_all: int
    reject_all: int
    custom: int
    withdraw: int
    granted: dict[str, int]
    rates: dict[str, Optional[float]]


class Row(Counts):
    key: str
    country: Optional[str] = None


class Previous(BaseModel):
    from_: dt.date
    to: dt.date
    totals: Counts

    model_config = {"alias_generator": lambda name: name.rstrip("_"), "populate_by_name": True}


class Stats(BaseModel):
    site: str
    from_: dt.date
    to: dt.date
    timezone: str
    group_by: str
    min_group_size: int
    categories: list[str]
    totals: Counts
    previous: Previous
    rows: list[Row]

    model_config = {"alias_generator": lambda name: name.rstrip("_"), "populate_by_name": True}


SECURITY = [{"bearerAuth": []}, {"sessionCookie": []}]
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A token from `create-token` (revocable with `revoke-token`)."},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "cookiegate_session", "description": "A login session (the dashboard)."},
}
NO_CACHE = Header("Never kept by a cache: `private, no-store`.", {"type": "string", "const": "private, no-store"})
ERRORS = {
    400: error("`invalid_parameter`: `from`, `to` or `group_by` is not valid; the error names it in `parameter`."),
    401: error("`unauthorized`: no login session and no valid Bearer token.",
               **{"WWW-Authenticate": Header("`Bearer realm=\"cookiegate\"`.", {"type": "string"})}),
    403: error("`forbidden`: the user has no access to this site."),
    404: UNKNOWN_SITE,
}
CSV_COLUMNS = ("One line per row of the JSON answer (same parameters, formulas and privacy floor); columns: key, [country], "
               "impressions, consents, accept_all, reject_all, custom, withdraw, granted_<c>…, rate_<c>…, interaction. "
               "Cells that a spreadsheet would run as a formula start with an apostrophe.")


def answer_for(site: Site, args) -> dict[str, Any]:
    today = utcnow().astimezone(site_zone(site)).date()
    try:
        query = parse(args, today)
    except InvalidParameter as invalid:
        raise ApiError(400, "invalid_parameter", invalid.message, parameter=invalid.parameter) from None
    catch_up(site.id)  # maintenance write (commits): sum the consents recorded since the last read
    return site_stats(site, query.first, query.last, query.group_by)


def _site() -> Site:
    fresh_request_state()  # the login session is read afresh (Flask-Login caches the user in `g`)
    require_site_access(g.site.id)
    site = db.session.get(Site, g.site.id)
    if site is None:
        raise ApiError(404, "unknown_site", "No site has this key.")
    return site


@bp.get("/sites/<site_key>/stats")
@operation(summary="Consent statistics of a site", description=FORMULAS, query=StatsParams, security=SECURITY,
           answers={200: Answer("The statistics.", Stats, headers={"Cache-Control": NO_CACHE}), **ERRORS})
def stats(site_key: str) -> Response:
    response = jsonify(answer_for(_site(), request.args))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/sites/<site_key>/stats.csv")
@operation(summary="The same rows as CSV", description=CSV_COLUMNS, query=StatsParams, security=SECURITY,
           answers={200: Answer("CSV (UTF-8), as a download.", {"type": "string"}, media="text/csv",
                                headers={"Cache-Control": NO_CACHE}), **ERRORS})
def stats_csv(site_key: str) -> Response:
    answer = answer_for(_site(), request.args)
    filename = f"cookiegate-{answer['site']}-{answer['group_by']}-{answer['from']}-{answer['to']}.csv"
    response = Response(to_csv(answer), mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
