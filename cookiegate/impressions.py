"""Banner impressions: a counter per site, day, country and device type; no identifier at all.

The same statement-pair also feeds the statistics (stats/rollup.py), bots left out there.
"""
from __future__ import annotations

import datetime as dt

from . import dbutil, outage
from .extensions import db
from .models import ImpressionCount, utcnow
from .visitor import Visitor


def count_impression(site_id: int, visitor: Visitor, at: dt.datetime | None = None, commit: bool = True) -> None:
    from .stats.rollup import count_impression as count_for_statistics

    if visitor.device.is_audit:
        return  # the pre-consent audit is not an audience (docs/audit.md)

    at = at or utcnow()
    table = ImpressionCount.__table__
    statement = (
        dbutil.insert(ImpressionCount)
        .values(
            site_id=site_id,
            day=at.astimezone(dt.timezone.utc).date(),
            country=visitor.location.country,
            device_type=visitor.device.device_type,
            count=1,
        )
        .on_conflict_do_update(
            index_elements=["site_id", "day", "country", "device_type"],
            set_={"count": table.c.count + 1},
        )
    )
    db.session.execute(statement)
    if not visitor.device.is_bot:
        count_for_statistics(site_id, visitor.location.country, visitor.device.device_type, at)
    if commit:
        db.session.commit()
        outage.committed()
