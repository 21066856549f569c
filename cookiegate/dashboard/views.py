"""Dashboard views: parse the request, call the stats functions, render."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional
from urllib.parse import urlencode

from flask import Response, g, render_template, request, url_for
from flask_login import current_user

from ..auth.access import login_required, site_access_required, visible_sites
from ..extensions import db
from ..i18n import format_number, format_percent, translate, ui_language
from ..models import Site, utcnow
from ..stats.figures import site_stats, site_zone
from ..stats.params import InvalidParameter, parse
from ..stats.rollup import catch_up
from . import bp
from .chart import daily_chart

TABLES = ("country", "city", "device", "browser", "os", "method", "policy_version", "language")
COUNT_METRICS = ("impressions", "consents", "accept_all", "reject_all", "custom", "withdraw")
MONTHS = {"da": ("jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"),
          "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")}


@bp.get("/")
@login_required
def index() -> Response:
    return Response(render_template("dashboard/index.html", sites=visible_sites(current_user)))


def presets(today: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    return [
        ("7", today - dt.timedelta(days=6), today),
        ("30", today - dt.timedelta(days=29), today),
        ("90", today - dt.timedelta(days=89), today),
        ("month", today.replace(day=1), today),
    ]


def short_date(value: str) -> str:
    day = dt.date.fromisoformat(value)
    language = ui_language()
    if language == "da":
        return f"{day.day}. {MONTHS['da'][day.month - 1]}"
    return f"{day.day} {MONTHS['en'][day.month - 1]}"


def long_date(day: dt.date) -> str:
    return f"{short_date(day.isoformat())} {day.year}"


def change(current: Optional[float], previous: Optional[float], is_rate: bool) -> dict[str, Any]:
    """The change against the previous period: relative for counts, in percentage points for rates."""
    if current is None or previous is None:
        return {"text": "", "direction": "none"}
    if is_rate:
        points = (current - previous) * 100
        if abs(points) < 0.05:
            return {"text": translate("dash.no_change"), "direction": "none"}
        sign = "+" if points > 0 else "−"
        unit = " pp" if ui_language() == "en" else " procentpoint"
        return {"text": f"{sign}{format_number(abs(points), 1)}{unit}", "direction": "up" if points > 0 else "down"}
    if previous == 0:
        return {"text": translate("dash.new") if current else translate("dash.no_change"), "direction": "up" if current else "none"}
    relative = (current - previous) / previous
    if abs(relative) < 0.0005:
        return {"text": translate("dash.no_change"), "direction": "none"}
    sign = "+" if relative > 0 else "−"
    return {"text": f"{sign}{format_percent(abs(relative))}", "direction": "up" if relative > 0 else "down"}


def headline(answer: dict[str, Any]) -> list[dict[str, Any]]:
    totals, previous = answer["totals"], answer["previous"]["totals"]
    metrics = []
    for name in COUNT_METRICS:
        metrics.append({"name": name, "label": translate(f"dash.metric.{name}"), "value": totals[name],
                        "text": format_number(totals[name]), "change": change(totals[name], previous[name], False)})
    rate = totals["rates"]["interaction"]
    metrics.append({"name": "interaction", "label": translate("dash.metric.interaction"), "value": rate,
                    "text": format_percent(rate), "change": change(rate, previous["rates"]["interaction"], True)})
    for slug in answer["categories"]:
        rate = totals["rates"][slug]
        metrics.append({"name": f"rate_{slug}", "label": translate("dash.metric.rate", category=category_name(slug)),
                        "value": rate, "text": format_percent(rate), "change": change(rate, previous["rates"][slug], True)})
    return metrics


def category_name(slug: str) -> str:
    names = {"da": {"statistics": "statistik", "marketing": "marketing", "preferences": "præferencer"},
             "en": {"statistics": "statistics", "marketing": "marketing", "preferences": "preferences"}}
    return names.get(ui_language(), {}).get(slug, slug)


def row_label(group_by: str, row: dict[str, Any]) -> str:
    key = row["key"]
    if key == "other":
        return translate("dash.other")
    if key == "unknown":
        return translate("dash.unknown")
    if group_by == "city" and row.get("country"):
        return f"{key} ({row['country']})"
    if group_by == "method":
        return translate(f"dash.metric.{key}", default=key)
    return key


@bp.get("/<site_key>/")
@site_access_required
def site(site_key: str) -> Response:
    site_row = db.session.get(Site, g.site.id)
    zone = site_zone(site_row)
    today = utcnow().astimezone(zone).date()
    error = None
    try:
        query = parse(request.args, today)
    except InvalidParameter as invalid:
        error = translate("dash.invalid_range", message=invalid.message)
        query = parse({}, today)
    group_by = query.group_by
    catch_up(site_row.id)  # maintenance write (commits): sum the consents recorded since the last read
    daily = site_stats(site_row, query.first, query.last, "day")
    tables = {name: site_stats(site_row, query.first, query.last, name)["rows"] for name in TABLES}
    range_args = {"from": query.first.isoformat(), "to": query.last.isoformat()}
    csv_url = url_for("api.stats_csv", site_key=site_row.key) + "?" + urlencode({**range_args, "group_by": group_by})
    categories = daily["categories"]
    chart = daily_chart(
        daily["rows"], categories, short_date, lambda v: format_number(v),
        translate("dash.chart.title"), translate("dash.chart.consents") + "; " + translate("dash.chart.rates"),
    )
    preset_links = [
        {"id": name, "label": translate(f"dash.preset.{name}"),
         "url": "?" + urlencode({"from": first.isoformat(), "to": last.isoformat(), "lang": ui_language()}),
         "current": first == query.first and last == query.last}
        for name, first, last in presets(today)
    ]
    return Response(render_template(
        "dashboard/site.html",
        site=site_row, answer=daily, metrics=headline(daily), tables=tables, table_names=TABLES, chart=chart,
        presets=preset_links, csv_url=csv_url, group_by=group_by, groupings=("day", "week", "month") + TABLES,
        error=error, categories=categories, category_name=category_name, row_label=row_label,
        period=f"{long_date(query.first)} – {long_date(query.last)}",
        previous_period=f"{long_date(dt.date.fromisoformat(daily['previous']['from']))} – "
                        f"{long_date(dt.date.fromisoformat(daily['previous']['to']))}",
        data_value=lambda value: json.dumps(value), short_date=short_date,
    ))
