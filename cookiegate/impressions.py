"""Banner impressions: a counter per site, day, country and device type; no identifier at all."""
from __future__ import annotations

import datetime as dt

from . import dbutil
from .extensions import db
from .models import ImpressionCount, utcnow
from .visitor import Visitor


def count_impression(site_id: int, visitor: Visitor, day: dt.date | None = None, commit: bool = True) -> None:
    table = ImpressionCount.__table__
    statement = (
        dbutil.insert(ImpressionCount)
        .values(
            site_id=site_id,
            day=day or utcnow().date(),
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
    if commit:
        db.session.commit()
