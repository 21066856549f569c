#!/usr/bin/env python3
"""How long the pre-consent audit of the demo page takes, against the time Chromium needs for
one plain visit of the same page measured in the same run (a fresh profile, load, network quiet).

    .venv/bin/python benchmarks/audit_time.py [--rounds 3]

The audit makes seven page loads (three passes, two reloads after a click, two token checks)
and waits `dwell` seconds after each on purpose (late tags), so its time is mostly waiting;
the ratio shows what the audit adds beyond that. No budget: printed for the record (docs/audit.md).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from cookiegate.siteaudit import Options, run_audit
    from cookiegate.siteaudit.crawl import CHROMIUM, LAUNCH_ARGS

    with tempfile.TemporaryDirectory() as tmp:
        port = 18000 + os.getpid() % 1000
        env = dict(os.environ, COOKIEGATE_ENV="development", COOKIEGATE_DATABASE_URL=f"sqlite:///{tmp}/bench.db",
                   COOKIEGATE_INSTANCE_PATH=tmp, COOKIEGATE_STATE_TTL="1", WEB_CONCURRENCY="2")
        flask = [str(BIN / "flask"), "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        subprocess.run([*flask, "cookiegate", "demo", "--days", "1"], cwd=ROOT, env=env, check=True, capture_output=True)
        add_origin = (
            "from cookiegate import create_app; from cookiegate.extensions import db; from cookiegate.sites import get_site\n"
            f"app = create_app()\nwith app.app_context():\n    s = get_site('demo'); s.origins = [*s.origins, 'http://127.0.0.1:{port}']; db.session.commit()"
        )
        subprocess.run([sys.executable, "-c", add_origin], cwd=ROOT, env=env, check=True, capture_output=True)
        server = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/demo/"
            for _ in range(100):
                try:
                    if requests.get(url, timeout=1).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.1)
            visits, audits = [], []
            for _ in range(args.rounds):
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(LAUNCH_ARGS))
                    started = time.monotonic()
                    context = browser.new_context()
                    page = context.new_page()
                    page.goto(url, wait_until="load")
                    page.wait_for_load_state("networkidle")
                    context.close()
                    visits.append(time.monotonic() - started)
                    browser.close()
                started = time.monotonic()
                report = run_audit(url, options=Options()).report
                audits.append(time.monotonic() - started)
                assert report["verdict"] == "pass", report["verdict"]
        finally:
            server.terminate()
            server.wait(timeout=15)
    visit, audit = statistics.median(visits), statistics.median(audits)
    print(f"one plain visit of the demo page: {visit:.2f} s (median of {args.rounds})")
    print(f"full audit of the demo page:      {audit:.1f} s (median of {args.rounds}; includes starting Chromium)")
    print(f"ratio audit / one visit:          {audit / visit:.1f}x (7 page loads, 2 clicks, 1.5 s dwell after each)")


if __name__ == "__main__":
    main()
