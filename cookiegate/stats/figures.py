"""The statistics of a site for a range of local days, from the rollups (rollup.py).

Formulas (also in the OpenAPI description and on the dashboard):
- consents   = records with method accept_all, reject_all or custom (withdrawals are `withdraw`);
- granted[c] = consents whose choices granted category c;  rates[c] = granted[c] / consents;
- interaction = consents / impressions, an impression being the banner shown by itself to a
  visitor without a valid choice (not a reopening);
- records flagged as bots are left out; days are the site's time zone's, `from` and `to` included;
- privacy floor: in attribute groupings a row with fewer records (consents + withdrawals) than
  the site's min_group_size is merged into the row `other`; totals stay exact.
A rate with a zero denominator is null.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, and_, cast, func, literal_column, or_, select

from ..extensions import db
from ..models import Site, StatsImpression, StatsRollup
from .rollup import COUNT_COLUMNS, DIMENSIONS, IMPRESSION_DIMENSIONS, QUARTER, UTC

TIME_GROUPINGS = ("day", "week", "month")
GROUPINGS = TIME_GROUPINGS + DIMENSIONS
DEFAULT_TIMEZONE = "Europe/Copenhagen"
OTHER = "other"
UNKNOWN = "unknown"
RATE_DIGITS = 4


def site_zone(site: Site) -> ZoneInfo:
    try:
        return ZoneInfo(site.timezone or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def utc_bounds(zone: ZoneInfo, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC of the local days first..last inclusive."""
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone).astimezone(UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(UTC)
    return start, end


def spans(start: dt.datetime, end: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Whole UTC days from the day rollups, the partial days at either end from quarter-hours."""
    first_day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if first_day < start:
        first_day += dt.timedelta(days=1)
    last_day = end.replace(hour=0, minute=0, second=0, microsecond=0)
    if first_day >= last_day:
        return [("q", start, end)]
    parts = [("q", start, first_day), ("d", first_day, last_day), ("q", last_day, end)]
    return [(grain, lo, hi) for grain, lo, hi in parts if lo < hi]


@dataclass
class Tally:
    counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0, 0])
    granted: dict[str, int] = field(default_factory=dict)
    impressions: int = 0

    def add(self, counts: Iterable[int], granted_key: str) -> None:
        counts = list(counts)
        for i, n in enumerate(counts):
            self.counts[i] += int(n or 0)
        if granted_key and counts[0]:
            for slug in granted_key.split(","):
                self.granted[slug] = self.granted.get(slug, 0) + int(counts[0])

    def merge(self, other: "Tally") -> None:
        for i, n in enumerate(other.counts):
            self.counts[i] += n
        for slug, n in other.granted.items():
            self.granted[slug] = self.granted.get(slug, 0) + n
        self.impressions += other.impressions

    @property
    def records(self) -> int:
        return self.counts[0] + self.counts[4]


def _rate(numerator: int, denominator: int) -> Optional[float]:
    return round(numerator / denominator, RATE_DIGITS) if denominator else None


def describe(tally: Tally, categories: tuple[str, ...], with_impressions: bool = True) -> dict[str, Any]:
    consents = tally.counts[0]
    answer: dict[str, Any] = {"impressions": tally.impressions if with_impressions else None}
    answer.update(zip(COUNT_COLUMNS, tally.counts))
    answer["granted"] = {slug: tally.granted.get(slug, 0) for slug in categories}
    rates: dict[str, Optional[float]] = {slug: _rate(tally.granted.get(slug, 0), consents) for slug in categories}
    rates["interaction"] = _rate(consents, tally.impressions) if with_impressions else None
    answer["rates"] = rates
    return answer


# --- reading the rollups -------------------------------------------------------------------

_SUMS = [func.sum(StatsRollup.__table__.c[name]) for name in COUNT_COLUMNS]


def _in_spans(table, start: dt.datetime, end: dt.datetime):
    """One condition for the whole range: day rows inside, quarter-hour rows at the edges."""
    return or_(*[and_(table.c.grain == grain, table.c.bucket >= lo, table.c.bucket < hi) for grain, lo, hi in spans(start, end)])


def consents_by_value(site_id: int, dim: str, start: dt.datetime, end: dt.datetime) -> dict[str, Tally]:
    table = StatsRollup.__table__
    tallies: dict[str, Tally] = {}
    rows = db.session.execute(
        select(table.c.value, table.c.granted, *_SUMS)
        .where(table.c.site_id == site_id, table.c.dim == dim, _in_spans(table, start, end))
        .group_by(table.c.value, table.c.granted)
    ).all()
    for value, granted, *counts in rows:
        tallies.setdefault(value, Tally()).add(counts, granted)
    return tallies


def impressions_by_value(site_id: int, dim: str, start: dt.datetime, end: dt.datetime) -> dict[str, int]:
    table = StatsImpression.__table__
    rows = db.session.execute(
        select(table.c.value, func.sum(table.c.count))
        .where(table.c.site_id == site_id, table.c.dim == dim, _in_spans(table, start, end))
        .group_by(table.c.value)
    ).all()
    return {value: int(count or 0) for value, count in rows}


def offset_segments(zone: ZoneInfo, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime, int]]:
    """[start, end) cut where the zone's UTC offset changes (DST): (lo, hi, offset in minutes).
    Offsets change on quarter-hour boundaries, so a day-by-day scan refined by quarter-hours finds them."""
    def offset(moment: dt.datetime) -> int:
        return int(moment.astimezone(zone).utcoffset().total_seconds() // 60)

    segments, lo, current = [], start, offset(start)
    probe = start
    while probe < end:
        step_end = min(probe + dt.timedelta(days=1), end)
        if offset(step_end - QUARTER) != current:
            moment = probe
            while moment < step_end and offset(moment) == current:
                moment += QUARTER
            segments.append((lo, moment, current))
            lo, current = moment, offset(moment)
            probe = moment
            continue
        probe = step_end
    segments.append((lo, end, current))
    return [(a, b, o) for a, b, o in segments if a < b]


def _local_day(column, minutes: int):
    """The local date of a UTC bucket at a fixed offset, computed by the database."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.date(column, f"{minutes:+d} minutes")
    return cast(func.timezone("UTC", column) + literal_column(f"interval '{int(minutes)} minutes'"), Date)


def _sum_by_local_day(table, site_id: int, zone: ZoneInfo, start: dt.datetime, end: dt.datetime, sums, by=()):
    """[(local date, *by, *sums)] over the site's quarter-hour "all" rows of `table`, summed by
    the database, one query per DST segment."""
    out = []
    for lo, hi, minutes in offset_segments(zone, start, end):
        day = _local_day(table.c.bucket, minutes).label("day")
        out.extend(db.session.execute(
            select(day, *by, *[func.sum(column) for column in sums])
            .where(table.c.site_id == site_id, table.c.dim == "all", table.c.grain == "q",
                   table.c.bucket >= lo, table.c.bucket < hi)
            .group_by(day, *by)
        ).all())
    return out


def consents_by_local_day(site_id: int, zone: ZoneInfo, start: dt.datetime, end: dt.datetime):
    """[(local date, granted, *counts)]"""
    table = StatsRollup.__table__
    return _sum_by_local_day(table, site_id, zone, start, end, [table.c[name] for name in COUNT_COLUMNS], by=(table.c.granted,))


def impressions_by_local_day(site_id: int, zone: ZoneInfo, start: dt.datetime, end: dt.datetime):
    """[(local date, impressions)]"""
    table = StatsImpression.__table__
    return _sum_by_local_day(table, site_id, zone, start, end, [table.c.count])


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


# --- the answer ----------------------------------------------------------------------------

def period_key(day: dt.date, group_by: str) -> str:
    if group_by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def totals(site_id: int, start: dt.datetime, end: dt.datetime) -> Tally:
    tally = consents_by_value(site_id, "all", start, end).get("", Tally())
    tally.impressions = impressions_by_value(site_id, "all", start, end).get("", 0)
    return tally


def time_rows(site_id: int, zone: ZoneInfo, first: dt.date, last: dt.date, group_by: str,
              start: dt.datetime, end: dt.datetime) -> list[tuple[str, Tally]]:
    keys: dict[str, Tally] = {}
    day = first
    while day <= last:  # every period of the range, empty ones too (a chart needs them)
        keys.setdefault(period_key(day, group_by), Tally())
        day += dt.timedelta(days=1)
    for day, granted, *counts in consents_by_local_day(site_id, zone, start, end):
        keys[period_key(_as_date(day), group_by)].add(counts, granted)
    for day, count in impressions_by_local_day(site_id, zone, start, end):
        keys[period_key(_as_date(day), group_by)].impressions += int(count or 0)
    return list(keys.items())


def display_key(dim: str, value: str) -> tuple[str, dict[str, Any]]:
    if dim == "city" and value:
        country, _, city = value.partition("\t")
        return city, {"country": country or None}
    return (value or UNKNOWN), ({"country": None} if dim == "city" else {})


def attribute_rows(site_id: int, dim: str, start: dt.datetime, end: dt.datetime, min_group_size: int):
    tallies = consents_by_value(site_id, dim, start, end)
    if dim in IMPRESSION_DIMENSIONS:
        for value, count in impressions_by_value(site_id, dim, start, end).items():
            tallies.setdefault(value, Tally()).impressions += count
    kept, other = [], Tally()
    for value, tally in tallies.items():
        if tally.records < min_group_size:
            other.merge(tally)
        else:
            kept.append((value, tally))
    kept.sort(key=lambda item: (-item[1].counts[0], -item[1].records, item[0]))
    rows = [(display_key(dim, value), tally) for value, tally in kept]
    if other.records or other.impressions:
        rows.append(((OTHER, {"country": None} if dim == "city" else {}), other))
    return rows


def optional_categories(site: Site) -> tuple[str, ...]:
    return tuple(c.slug for c in site.categories if not c.required)


def site_stats(site: Site, first: dt.date, last: dt.date, group_by: str = "day") -> dict[str, Any]:
    """The stats answer (docs/stats.md) for local days first..last (inclusive), from the rollups as
    they are: a reader that wants the consents of a moment ago calls rollup.catch_up first."""
    if group_by not in GROUPINGS:
        raise ValueError(f"unknown grouping {group_by!r}")
    zone = site_zone(site)
    categories = optional_categories(site)
    start, end = utc_bounds(zone, first, last)
    length = (last - first).days + 1
    previous_last = first - dt.timedelta(days=1)
    previous_first = previous_last - dt.timedelta(days=length - 1)
    previous_start, previous_end = utc_bounds(zone, previous_first, previous_last)
    with_impressions = group_by in TIME_GROUPINGS or group_by in IMPRESSION_DIMENSIONS
    if group_by in TIME_GROUPINGS:
        rows = [{"key": key, **describe(tally, categories)} for key, tally in
                time_rows(site.id, zone, first, last, group_by, start, end)]
    else:
        rows = [{"key": key, **extra, **describe(tally, categories, with_impressions)} for (key, extra), tally in
                attribute_rows(site.id, group_by, start, end, site.min_group_size)]
    return {
        "site": site.key,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": zone.key,
        "group_by": group_by,
        "min_group_size": site.min_group_size,
        "categories": list(categories),
        "totals": describe(totals(site.id, start, end), categories),
        "previous": {
            "from": previous_first.isoformat(),
            "to": previous_last.isoformat(),
            "totals": describe(totals(site.id, previous_start, previous_end), categories),
        },
        "rows": rows,
    }
