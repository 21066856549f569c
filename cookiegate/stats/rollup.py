"""Keeping the statistics rollups: consent records summed behind the per-site `seq`, and
banner impressions counted as they come (no identifier at all: a count per bucket, country and
device type; the pre-consent audit and bots are no audience).

Why behind `seq` rather than in the consent's own transaction: the consent write stays
exactly as fast as before (three statements), and a site's `seq` is handed out under the
site row's lock until commit, so the records up to any committed `seq` are all there: a
catch-up that reads `seq > watermark` in order never skips one. Every statistics read
catches up first, so a consent recorded a moment ago is in the figures.

Rows are only ever added to, never derived again from raw records, so `purge` and `erase`
(which delete raw records) must call `catch_up(site_id)` first; then the figures do not move.

Buckets: 15-minute UTC buckets ("q"; every time zone in use today has an offset that is a
multiple of 15 minutes, so any local midnight is a bucket boundary) and UTC days ("d"), so a
range of local days reads whole UTC days plus at most two partial days of quarter-hours.
"""
from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from typing import Iterable, Optional

from sqlalchemy import select, update

from ..extensions import db
from ..infra import database, db_errors
from ..infra.visitor import Visitor
from ..models import ConsentRecord, StatsImpression, StatsRollup, StatsWatermark, utcnow

UTC = dt.timezone.utc
QUARTER = dt.timedelta(minutes=15)  # a bucket of grain "q"
# Attribute groupings of the stats API, and the record field each reads.
DIMENSIONS = ("country", "city", "device", "browser", "os", "method", "policy_version", "language")
IMPRESSION_DIMENSIONS = ("country", "device")
COUNT_COLUMNS = ("consents", "accept_all", "reject_all", "custom", "withdraw")
METHOD_COLUMN = {"accept_all": 1, "reject_all": 2, "custom": 3, "withdraw": 4}
BATCH = 20_000

_records = ConsentRecord.__table__
_READ = select(
    _records.c.seq, _records.c.created_at, _records.c.method, _records.c.choices, _records.c.policy_version,
    _records.c.language, _records.c.country, _records.c.city, _records.c.device_type, _records.c.browser_family,
    _records.c.os_family, _records.c.is_bot,
)


def quarter_of(moment: dt.datetime) -> dt.datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def day_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def granted_key(choices: dict) -> str:
    return ",".join(sorted(slug for slug, granted in choices.items() if granted))


def city_value(country: str, city: str) -> str:
    # Cities are told apart by country too (Paris, FR and Paris, US).
    return f"{country}\t{city}" if city else ""


def dimension_values(record) -> tuple[tuple[str, str], ...]:
    """(dim, value) of one record for every grouping, "" for unknown."""
    return (
        ("all", ""),
        ("country", record.country or ""),
        ("city", city_value(record.country or "", record.city or "")),
        ("device", record.device_type or ""),
        ("browser", record.browser_family or ""),
        ("os", record.os_family or ""),
        ("method", record.method),
        ("policy_version", str(record.policy_version)),
        ("language", record.language or ""),
    )


def summarise(records: Iterable) -> dict[tuple, list[int]]:
    """{(dim, grain, bucket, value, granted): [consents, accept_all, reject_all, custom, withdraw]}; bots left out."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for record in records:
        # A tombstone (proof/removal.py) has no payload left to count; erase and purge catch up
        # before they make one, so only a record erased in the instant after that is skipped.
        if record.is_bot or record.method is None:
            continue
        created = record.created_at
        if created.tzinfo is None:  # SQLite hands back naive UTC through a Core select
            created = created.replace(tzinfo=UTC)
        buckets = (("q", quarter_of(created)), ("d", day_of(created)))
        column = METHOD_COLUMN[record.method]
        counts_consent = record.method != "withdraw"
        granted = granted_key(record.choices)
        for dim, value in dimension_values(record):
            for grain, bucket in buckets:
                row = sums[(dim, grain, bucket, value, granted)]
                row[column] += 1
                if counts_consent:
                    row[0] += 1
    return sums


def _upsert_rollups(site_id: int, sums: dict[tuple, list[int]]) -> None:
    if not sums:
        return
    table = StatsRollup.__table__
    statement = database.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["site_id", "dim", "grain", "bucket", "value", "granted"],
        set_={name: table.c[name] + statement.excluded[name] for name in COUNT_COLUMNS},
    )
    rows = [
        {"site_id": site_id, "dim": dim, "grain": grain, "bucket": bucket, "value": value[:200], "granted": granted,
         **dict(zip(COUNT_COLUMNS, counts))}
        for (dim, grain, bucket, value, granted), counts in sums.items()
    ]
    db.session.execute(statement, rows)


def _watermark(site_id: int) -> int:
    seq = db.session.execute(select(StatsWatermark.seq).where(StatsWatermark.site_id == site_id)).scalar_one_or_none()
    if seq is None:
        db.session.execute(database.insert(StatsWatermark).values(site_id=site_id, seq=0).on_conflict_do_nothing(index_elements=["site_id"]))
        db.session.commit()
        return 0
    return seq


def catch_up(site_id: int, batch: int = BATCH, rest: float = 0.0) -> int:
    """Sum the site's records past the watermark into the rollups; returns how many were read.

    Optimistic: records are read and summed outside any write lock, then one short write
    transaction moves the watermark from the value read (a concurrent catch-up that got
    there first makes this one start over) and adds the sums. `rest`: after each batch, sleep
    this multiple of the time it took (purge's pace, so a long backlog leaves writes room)."""
    total, started = 0, time.monotonic()
    while True:
        if total and rest:
            time.sleep((time.monotonic() - started) * rest)
        started = time.monotonic()
        start = _watermark(site_id)
        records = db.session.execute(
            _READ.where(_records.c.site_id == site_id, _records.c.seq > start).order_by(_records.c.seq).limit(batch)
        ).all()
        db.session.rollback()  # end the read transaction before writing (SQLite WAL snapshots)
        if not records:
            return total
        sums = summarise(records)
        end = records[-1].seq
        moved = db.session.execute(
            update(StatsWatermark).where(StatsWatermark.site_id == site_id, StatsWatermark.seq == start).values(seq=end)
        ).rowcount
        if moved != 1:
            db.session.rollback()
            continue
        _upsert_rollups(site_id, sums)
        db.session.commit()
        total += len(records)
        if len(records) < batch:
            return total


def count_impression(site_id: int, visitor: Visitor, at: Optional[dt.datetime] = None, commit: bool = True) -> None:
    """One banner impression in the statistics (one statement). The pre-consent audit is not an
    audience (docs/audit.md), nor are bots."""
    device = visitor.device
    if device.is_audit or device.is_bot:
        return
    at = at or utcnow()
    rows = [
        {"site_id": site_id, "dim": dim, "grain": grain, "bucket": bucket, "value": value, "count": 1}
        for grain, bucket in (("q", quarter_of(at)), ("d", day_of(at)))
        for dim, value in (("all", ""), ("country", visitor.location.country or ""), ("device", device.device_type or ""))
    ]
    table = StatsImpression.__table__
    statement = database.insert(table).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["site_id", "dim", "grain", "bucket", "value"], set_={"count": table.c.count + statement.excluded.count}
    )
    db.session.execute(statement)
    if commit:
        db.session.commit()
        db_errors.committed()


def count_impressions(site_id: int, counts: dict[tuple[str, str, dt.datetime], int]) -> None:
    """Many impressions at once: {(country, device_type, moment-in-its-quarter): n} (the demo)."""
    sums: dict[tuple, int] = defaultdict(int)
    for (country, device, at), amount in counts.items():
        for grain, bucket in (("q", quarter_of(at)), ("d", day_of(at))):
            for dim, value in (("all", ""), ("country", country or ""), ("device", device or "")):
                sums[(dim, grain, bucket, value)] += amount
    if not sums:
        return
    table = StatsImpression.__table__
    statement = database.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["site_id", "dim", "grain", "bucket", "value"], set_={"count": table.c.count + statement.excluded.count}
    )
    db.session.execute(statement, [
        {"site_id": site_id, "dim": dim, "grain": grain, "bucket": bucket, "value": value, "count": n}
        for (dim, grain, bucket, value), n in sums.items()
    ])
