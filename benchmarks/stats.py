#!/usr/bin/env python3
"""Statistics at a million consents: every grouping from the rollups against the same figures
by GROUP BY over the raw records, side by side, on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/stats.py [--consents 1000000] [--days 90] [--repeat 5] [--backends sqlite,postgres]

The data is made by the demo's own code (`seed_sample_data`: consents recorded in batches through
consents.record_batch and summed into the rollups as they go), so its time is the `demo --consents`
time. The range asked is the whole `--days` span (every consent in it).
Budgets (issue 12): every grouping's median < 300 ms, and >= 20 x faster than the raw GROUP BY;
the demo's 1,000,000 consents in < 10 minutes. Figures of both ways are compared (they must agree).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

PG_URL = os.environ.get("COOKIEGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
KEYS = "bench-old-key-" + "o" * 40 + ",bench-new-key-" + "n" * 40
TIME_BUDGET_MS = 300
SPEEDUP_BUDGET = 20
DEMO_BUDGET_S = 600

# The raw GROUP BY key of each grouping, per backend; time groupings group by UTC hour here and
# fold hours into local days in Python (exact for whole-hour zones such as Europe/Copenhagen).
RAW_KEYS = {
    "country": ("country",), "city": ("country", "city"), "device": ("device_type",), "browser": ("browser_family",),
    "os": ("os_family",), "method": ("method",), "policy_version": ("policy_version",), "language": ("language",),
}


def hour_expr(dialect: str) -> str:
    return "substr(created_at, 1, 13)" if dialect == "sqlite" else "date_trunc('hour', created_at AT TIME ZONE 'UTC')"


def granted_expr(dialect: str, slug: str) -> str:
    if dialect == "sqlite":
        return f"SUM(CASE WHEN method <> 'withdraw' AND json_extract(choices, '$.{slug}') THEN 1 ELSE 0 END)"
    return f"SUM(CASE WHEN method <> 'withdraw' AND (choices->>'{slug}') = 'true' THEN 1 ELSE 0 END)"


def raw_figures(db, site, first, last, group_by, categories):
    """The stats answer's counts computed by GROUP BY over consent_records (no rollups)."""
    from cookiegate.stats.figures import site_zone, utc_bounds

    dialect = db.engine.dialect.name
    zone = site_zone(site)
    start, end = utc_bounds(zone, first, last)
    length = (last - first).days + 1
    p_start, p_end = utc_bounds(zone, first - dt.timedelta(days=length), first - dt.timedelta(days=1))
    granted = ", ".join(granted_expr(dialect, slug) for slug in categories)
    where = "site_id = :site AND is_bot = :no AND created_at >= :start AND created_at < :end"

    def params(lo, hi):
        if dialect == "sqlite":
            lo, hi = lo.replace(tzinfo=None).isoformat(" "), hi.replace(tzinfo=None).isoformat(" ")
        return {"site": site.id, "no": False, "start": lo, "end": hi}

    def totals(lo, hi):
        return db.session.execute(text(f"SELECT method, COUNT(*), {granted} FROM consent_records WHERE {where} GROUP BY method"),
                                  params(lo, hi)).all()

    if group_by in ("day", "week", "month"):
        key_sql = hour_expr(dialect)
    else:
        key_sql = ", ".join(RAW_KEYS[group_by])
    rows = db.session.execute(
        text(f"SELECT {key_sql}, method, COUNT(*), {granted} FROM consent_records WHERE {where} GROUP BY {key_sql}, method"),
        params(start, end)).all()
    impressions = db.session.execute(text("SELECT SUM(count) FROM stats_impressions WHERE site_id = :site AND dim = 'all' AND grain = 'd'"), {"site": site.id}).scalar()
    width = len(RAW_KEYS.get(group_by, (1,)))
    groups = defaultdict(lambda: defaultdict(int))
    for row in rows:
        key, method, count, grants = row[:width], row[width], row[width + 1], row[width + 2:]
        if group_by in ("day", "week", "month"):
            hour = key[0]
            if isinstance(hour, str):
                hour = dt.datetime.fromisoformat(hour + ":00")
            local = hour.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
            key = {"day": local.isoformat(), "week": "%d-W%02d" % local.isocalendar()[:2], "month": "%d-%02d" % (local.year, local.month)}[group_by]
        group = groups[key]
        group[method] += count
        if method != "withdraw":
            group["consents"] += count
            for slug, n in zip(categories, grants):
                group[slug] += int(n or 0)
    return {"groups": groups, "totals": totals(start, end), "previous": totals(p_start, p_end), "impressions": impressions}


def median_ms(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def check_agreement(answer, raw, group_by) -> None:
    """The rollup answer's rows equal the raw GROUP BY's (after the privacy floor)."""
    floor = answer["min_group_size"]
    if group_by in ("day", "week", "month"):
        expected = {k: g["consents"] for k, g in raw["groups"].items()}
        got = {r["key"]: r["consents"] for r in answer["rows"] if r["consents"]}
    else:
        expected, other = {}, 0
        for key, g in raw["groups"].items():
            if g["consents"] + g.get("withdraw", 0) < floor:
                other += g["consents"]
            else:
                expected[key] = g["consents"]
        if other:
            expected[("other",)] = other
        got = {}
        for r in answer["rows"]:
            if r["key"] == "other":
                key = ("other",)
            elif group_by == "city":
                key = ((r["country"] or ""), "" if r["key"] == "unknown" else r["key"])
            elif group_by == "policy_version":
                key = (int(r["key"]),)
            else:
                key = ("" if r["key"] == "unknown" else r["key"],)
            got[key] = r["consents"]
    if got != expected:
        raise SystemExit(f"figures disagree for {group_by}: rollups {sorted(got.items())[:5]} raw {sorted(expected.items())[:5]}")


def run_backend(backend: str, consents: int, days: int, repeat: int, workdir: Path) -> dict:
    from flask_migrate import upgrade

    from cookiegate import create_app
    from cookiegate.demo import ensure_demo_site, seed_sample_data
    from cookiegate.extensions import db
    from cookiegate.models import utcnow
    from cookiegate.stats.figures import GROUPINGS, optional_categories, site_stats, site_zone

    cleanup = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'stats-bench.db'}"
    else:
        import psycopg

        name = f"cookiegate_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        url = PG_URL.rsplit("/", 1)[0] + "/" + name

        def cleanup():
            with psycopg.connect(PG_URL, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "COOKIEGATE_SECRET_KEYS": KEYS.split(","), "COOKIEGATE_ENV": "testing",
                          "INSTANCE_PATH": str(workdir / f"instance-{backend}")})
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            site, _ = ensure_demo_site()
            db.session.commit()
            started = time.perf_counter()
            done = [0]

            def progress(n):
                done[0] += n
                if done[0] % 100_000 < n:
                    print(f"  {backend}: {done[0]:,} consents recorded ({time.perf_counter() - started:.0f} s)", flush=True)

            seed_sample_data(site, days=days, consents=consents, progress=progress)
            demo_seconds = time.perf_counter() - started
            if backend == "postgresql" or backend == "postgres":
                db.session.execute(text("ANALYZE"))
                db.session.commit()
            today = utcnow().astimezone(site_zone(site)).date()
            first, last = today - dt.timedelta(days=days - 1), today
            categories = optional_categories(site)
            results = {}
            for group_by in GROUPINGS:
                answer = site_stats(site, first, last, group_by)
                raw = raw_figures(db, site, first, last, group_by, categories)
                check_agreement(answer, raw, group_by)
                rollup_ms = median_ms(lambda group_by=group_by: site_stats(site, first, last, group_by), repeat)
                raw_ms = median_ms(lambda group_by=group_by: raw_figures(db, site, first, last, group_by, categories), max(1, repeat // 2))
                results[group_by] = (rollup_ms, raw_ms)
                print(f"  {backend:10} {group_by:15} rollups {rollup_ms:8.1f} ms   raw GROUP BY {raw_ms:9.1f} ms   "
                      f"{raw_ms / rollup_ms:6.1f} x", flush=True)
            total = answer["totals"]["consents"] + answer["totals"]["withdraw"]
            return {"demo_seconds": demo_seconds, "results": results, "consents_in_range": total}
    finally:
        if cleanup:
            cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consents", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            print(f"== {backend}: recording {args.consents:,} sample consents over {args.days} days (demo code) ==", flush=True)
            outcome = run_backend(backend, args.consents, args.days, args.repeat, Path(tmp))
            demo_ok = outcome["demo_seconds"] < DEMO_BUDGET_S or args.consents < 1_000_000
            print(f"  demo: {outcome['demo_seconds']:.0f} s for {args.consents:,} consents "
                  f"({'ok' if demo_ok else 'OVER'} budget {DEMO_BUDGET_S} s at 1,000,000); "
                  f"{outcome['consents_in_range']:,} non-bot records in the range")
            for group_by, (rollup_ms, raw_ms) in outcome["results"].items():
                ok = rollup_ms < TIME_BUDGET_MS and raw_ms / rollup_ms >= SPEEDUP_BUDGET
                failed |= not ok
                if not ok:
                    print(f"  OVER BUDGET: {backend} {group_by}: {rollup_ms:.1f} ms, {raw_ms / rollup_ms:.1f} x")
            failed |= not demo_ok
    print("stats budgets: " + ("FAILED" if failed else f"all groupings < {TIME_BUDGET_MS} ms and >= {SPEEDUP_BUDGET} x"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
