#!/usr/bin/env python3
"""What the console's consent-log page costs per view, against the verify-log it used to run on
every view (now only behind "Verify the log now").

    .venv/bin/python benchmarks/console_log.py [--records 1000000] [--database-url URL]

Appends N sealed records to one site in bulk (proof/bulk.py, as benchmarks/proof.py does), then
times consent_log.log_status (every page view: latest checkpoint, max(seq)), consent_log.verify
over the whole log (what every view used to cost) and as the button runs it (stopped after
COOKIEGATE_CONSOLE_VERIFY_SECONDS, under gunicorn's 30 s worker timeout), in one process.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHUNK = 50_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cookiegate-console-log-"))
    os.environ.update({
        "COOKIEGATE_ENV": "production", "COOKIEGATE_SECRET_KEYS": "bench-key-Pw7nK2xV9qLm4TzR8hCd3JsB6f",
        "COOKIEGATE_DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'bench.db'}",
        "COOKIEGATE_INSTANCE_PATH": str(workdir / "instance"), "COOKIEGATE_GEOIP_DB": str(workdir / "none.mmdb"),
        "COOKIEGATE_CHECKPOINT_KEY_FILE": str(workdir / "checkpoint_key.pem"),
    })
    from flask_migrate import upgrade

    from cookiegate import create_app
    from cookiegate.admin import consent_log
    from cookiegate.extensions import db
    from cookiegate.proof.bulk import append
    from cookiegate.proof.keys import write_new_key
    from cookiegate.sites.site import create_site

    write_new_key(workdir / "checkpoint_key.pem")
    app = create_app()
    with app.app_context():
        upgrade()
        site = create_site(f"Bench {time.time_ns()}", ["https://shop.example.dk"])
        db.session.commit()
        created = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
        started = time.perf_counter()
        for done in range(0, args.records, CHUNK):
            rows = [
                {"consent_id": f"{done + i:032x}", "created_at": created, "policy_version": 1, "method": "custom",
                 "choices": {"necessary": True, "statistics": bool(i % 2), "marketing": False}, "language": "da",
                 "page_url": "https://shop.example.dk/kurv", "country": "DK", "region": "DK-84", "city": "Copenhagen",
                 "device_type": "mobile", "browser_family": "Mobile Safari", "os_family": "iOS", "banner_hash": "b" * 64}
                for i in range(min(CHUNK, args.records - done))
            ]
            append(site.id, site.key, rows)
            db.session.commit()
        print(f"loaded {args.records} records in {time.perf_counter() - started:.1f} s")
        views = []
        for _ in range(7):
            t = time.perf_counter()
            status = consent_log.log_status(site)
            views.append(time.perf_counter() - t)
            db.session.rollback()
        print(f"page view (log_status): median {statistics.median(views) * 1000:.1f} ms, last_seq {status['last_seq']}")
        for label, seconds in (("whole log (as before, on every view)", None),
                               ("button (COOKIEGATE_CONSOLE_VERIFY_SECONDS)", app.config["COOKIEGATE_CONSOLE_VERIFY_SECONDS"])):
            t = time.perf_counter()
            verified = consent_log.verify(site, "benchmark", seconds=seconds)
            took = time.perf_counter() - t
            db.session.commit()
            print(f"verify, {label}: {took:.2f} s, {verified['report'].summary()}")
        if args.database_url is None:
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
