"""The stats endpoints' part of the OpenAPI description (merged into api/openapi.SPEC)."""
from __future__ import annotations

from .figures import GROUPINGS

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

_COUNTS = {
    "type": "object",
    "properties": {
        "impressions": {"type": ["integer", "null"]},
        "consents": {"type": "integer"}, "accept_all": {"type": "integer"}, "reject_all": {"type": "integer"},
        "custom": {"type": "integer"}, "withdraw": {"type": "integer"},
        "granted": {"type": "object", "additionalProperties": {"type": "integer"}},
        "rates": {"type": "object", "additionalProperties": {"type": ["number", "null"]}},
    },
}
_PARAMETERS = [
    {"name": "site_key", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "from", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
     "description": "First day (inclusive, site's time zone)."},
    {"name": "to", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
     "description": "Last day (inclusive, site's time zone)."},
    {"name": "group_by", "in": "query", "required": False, "schema": {"type": "string", "enum": list(GROUPINGS), "default": "day"}},
]
_ERRORS = {
    "400": {"description": "`invalid_parameter`; the error names the parameter in `parameter`."},
    "401": {"description": "`unauthorized`: no login session and no valid Bearer token."},
    "403": {"description": "`forbidden`: the user has no access to this site."},
    "404": {"description": "`unknown_site`"},
}
STATS_SCHEMA = {
    "type": "object",
    "properties": {
        "site": {"type": "string"}, "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "timezone": {"type": "string"}, "group_by": {"type": "string"}, "min_group_size": {"type": "integer"},
        "categories": {"type": "array", "items": {"type": "string"}},
        "totals": _COUNTS,
        "previous": {"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string"}, "totals": _COUNTS}},
        "rows": {"type": "array", "items": {"allOf": [_COUNTS, {"type": "object", "properties": {
            "key": {"type": "string"}, "country": {"type": ["string", "null"]}}}]}},
    },
}
PATHS = {
    "/api/v1/sites/{site_key}/stats": {"get": {
        "summary": "Consent statistics of a site", "description": FORMULAS, "parameters": _PARAMETERS,
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "responses": {"200": {"description": "The statistics", "content": {"application/json": {"schema": STATS_SCHEMA}}}, **_ERRORS},
    }},
    "/api/v1/sites/{site_key}/stats.csv": {"get": {
        "summary": "The same rows as CSV", "description": "One line per row of the JSON answer (same parameters, formulas and "
        "privacy floor); columns: key, [country], impressions, consents, accept_all, reject_all, custom, withdraw, granted_<c>…, "
        "rate_<c>…, interaction. Cells that a spreadsheet would run as a formula start with an apostrophe.",
        "parameters": _PARAMETERS, "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}, **_ERRORS},
    }},
}
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A token from `create-token` (revocable with `revoke-token`)."},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "cookiegate_session", "description": "A login session (the dashboard)."},
}


def merge_into(spec: dict) -> None:
    spec.setdefault("paths", {}).update(PATHS)
    spec.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
