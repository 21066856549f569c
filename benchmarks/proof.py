#!/usr/bin/env python3
"""Proof-of-consent operations at scale, as ratios against baselines measured in the same run.

    .venv/bin/python benchmarks/proof.py [--records 1000000] [--backends sqlite,postgres] [--seconds 8]

Budgets (issues 13 and 21):
  verify-log over N records   <= 2 x the time of a plain streaming SELECT of the same rows,
                              with flat memory (peak RSS at N about the same as at N/10);
                              format 2: kind and day in the chain, every record's banner text
                              checked against its hash, tombstones against removal records
  consent writes during purge >= 70 % of the req/s without purge, none failing
The records are appended in bulk with valid chains by the same ledger functions the write
path uses (proof/bulk.py), not via HTTP. verify-log and the SELECT each run in their own
process, so their peak RSS is theirs alone. The consent-write ratio against bare Flask is
benchmarks/api_throughput.py.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api_throughput import (  # noqa: E402
    BIN,
    CONSENT,
    KEYS,
    ORIGIN,
    ROOT,
    Gunicorn,
    database_for,
    drop_database,
    ensure_wrk,
    lua,
    lua_string,
    postgres_reachable,
    run_wrk,
)

CHUNK = 50_000


def environment(database_url: str, workdir: Path) -> dict:
    return {"COOKIEGATE_ENV": "production", "COOKIEGATE_DATABASE_URL": database_url, "COOKIEGATE_SECRET_KEYS": KEYS,
            "COOKIEGATE_INSTANCE_PATH": str(workdir / "instance"), "COOKIEGATE_RATELIMIT": "10000000 per minute",
            "COOKIEGATE_GEOIP_DB": str(workdir / "none.mmdb"),
            "COOKIEGATE_CHECKPOINT_KEY_FILE": str(workdir / "checkpoint_key.pem")}


def app_for(env: dict):
    os.environ.update(env)
    from cookiegate import create_app

    return create_app()


def flask(env: dict, *args: str) -> str:
    return subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=dict(os.environ, **env),
                          check=True, capture_output=True, text=True).stdout


# ---- children: each measures itself (time, peak RSS) and prints one JSON line ----

def child(mode: str, env: dict, site_key: str) -> None:
    app = app_for(env)
    with app.app_context():
        from cookiegate.extensions import db
        from cookiegate.proof.keys import checkpoint_keys
        from cookiegate.proof.verify import stream, verify_site
        from cookiegate.sites.site import get_site

        site = get_site(site_key)
        db.session.rollback()
        started = time.perf_counter()
        if mode == "select":
            count = sum(1 for _ in stream(site.id))
            status = "-"
        else:
            report = verify_site(site, checkpoint_keys())
            count, status = report.records, report.status
        elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "records": count, "status": status, "peak_mib": peak_kib / 1024}))


def run_child(mode: str, env: dict, site_key: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--site", site_key, "--env", json.dumps(env)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---- set-up ----

def load(env: dict, site_key: str, records: int, created: dt.datetime) -> float:
    """Append `records` sealed records, all created around `created`; seconds taken."""
    app = app_for(env)
    started = time.perf_counter()
    with app.app_context():
        from cookiegate.extensions import db
        from cookiegate.models import BannerSnapshot
        from cookiegate.proof.bulk import append
        from cookiegate.sites.banner_config import content_hash
        from cookiegate.sites.site import get_site

        site = get_site(site_key)
        # The banner text every record names: verify-log checks it exists and hashes to that name.
        notice = {"site": site.key, "texts": {"title": "Cookies"}, "categories": ["necessary", "statistics", "marketing"]}
        banner = content_hash(notice)
        if db.session.get(BannerSnapshot, banner) is None:
            db.session.add(BannerSnapshot(hash=banner, site_id=site.id, language="da", policy_version=1, content=notice))
            db.session.commit()
        choices = [{"necessary": True, "statistics": s, "marketing": m} for s in (True, False) for m in (True, False)]
        methods = ["accept_all", "custom", "custom", "reject_all"]
        done = 0
        while done < records:
            n = min(CHUNK, records - done)
            rows = [
                {"consent_id": f"{done + i:032x}", "created_at": created + dt.timedelta(seconds=(done + i) % 86_400),
                 "policy_version": 1, "method": methods[(done + i) % 4], "choices": choices[(done + i) % 4],
                 "language": "da", "page_url": "https://shop.example.dk/kurv", "country": "DK", "region": "DK-84",
                 "city": "Copenhagen", "device_type": "mobile", "browser_family": "Mobile Safari", "os_family": "iOS",
                 "banner_hash": banner}
                for i in range(n)
            ]
            append(site.id, site.key, rows)
            db.session.commit()
            done += n
        # Statistics are summed as the site's dashboard is viewed; a site whose dashboard nobody
        # opened for a year makes purge catch up first (at the purge's own pace, see removal.py).
        from cookiegate.stats.rollup import catch_up

        catch_up(site.id)
        db.engine.dispose()
    return time.perf_counter() - started


def bench_verify(env: dict, big: str, small: str, rounds: int) -> dict:
    runs = {"select": [], "verify": [], "verify_small": []}
    for _ in range(rounds):
        runs["select"].append(run_child("select", env, big))
        runs["verify"].append(run_child("verify", env, big))
    runs["verify_small"].append(run_child("verify", env, small))
    return runs


def wait(server: Gunicorn, path: str, timeout: float = 180) -> None:
    """Like Gunicorn.wait, with room for a slow boot on a busy machine."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(server.url + path, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    server.wait(path)


def bench_purge(env: dict, site_key: str, wrk: str, seconds: int, connections: int, workdir: Path, full_purge: bool) -> dict:
    server = Gunicorn("wsgi:app", env, 2, workdir)
    try:
        wait(server, "/healthz")
        post = lua(workdir / "post.lua", (
            "wrk.method = 'POST'\n"
            f"wrk.body = {lua_string(json.dumps(CONSENT))}\n"
            f"wrk.headers['Origin'] = {lua_string(ORIGIN)}\n"
            "wrk.headers['Content-Type'] = 'text/plain'\n"
        ))
        url = f"{server.url}/api/v1/sites/{site_key}/consents"
        run_wrk(wrk, url, post, 2, connections)  # warm up
        before = run_wrk(wrk, url, post, seconds, connections)
        # SIGINT as at a terminal, even when this script runs in the background (where it is ignored).
        purge = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "cookiegate", "purge"], cwd=ROOT,
                                 env=dict(os.environ, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        started = time.perf_counter()
        time.sleep(1)  # purge is counting and under way
        during = run_wrk(wrk, url, post, seconds, connections)
        still_running = purge.poll() is None
        interrupted = still_running and not full_purge
        if interrupted:  # purge is made to be interrupted: finished batches stay, a rerun goes on
            purge.send_signal(signal.SIGINT)
        output, errors = purge.communicate()
        purge_seconds = time.perf_counter() - started
        done = re.search(r"(?:Purged|Interrupted after) (\d+) record", output + errors)
        after = run_wrk(wrk, url, post, seconds, connections)
        return {"before": before, "during": during, "after": after, "purge_seconds": purge_seconds,
                "purge_outlasted_load": still_running, "purge_interrupted": interrupted,
                "purge_exit": 0 if interrupted and purge.returncode in (1, 130, -signal.SIGINT) else purge.returncode,
                "purged": int(done.group(1)) if done else 0, "purge_output": output + errors}
    finally:
        server.stop()


def bench_backend(backend: str, args, wrk: str, workdir: Path) -> dict:
    url, db_name = database_for(backend, workdir, "proof")
    try:
        env = environment(url, workdir)
        flask(env, "cookiegate", "checkpoint-key", "--new", env["COOKIEGATE_CHECKPOINT_KEY_FILE"])
        flask(env, "db", "upgrade")
        big = flask(env, "cookiegate", "create-site", "Big", "--origin", ORIGIN).strip().splitlines()[-1]
        small = flask(env, "cookiegate", "create-site", "Small", "--origin", "https://small.example.dk").strip().splitlines()[-1]
        expired = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1200)
        load_seconds = load(env, big, args.records, expired)
        load(env, small, args.records // 10, expired)
        verify = bench_verify(env, big, small, args.rounds)
        purge = bench_purge(env, big, wrk, args.seconds, args.connections, workdir, args.full_purge)
        return {"load_seconds": load_seconds, "verify": verify, "purge": purge}
    finally:
        drop_database(db_name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--full-purge", action="store_true",
                        help="let purge finish (at its default rest that is several minutes per million records) "
                             "instead of interrupting it once the load window has been measured")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--site", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, json.loads(args.env), args.site)
        return 0
    wrk = ensure_wrk()
    backends = [b for b in args.backends.split(",") if b != "postgres" or postgres_reachable()]
    failed = False
    with tempfile.TemporaryDirectory(prefix="cookiegate-proof-bench-") as tmp:
        for backend in backends:
            workdir = Path(tmp) / backend
            workdir.mkdir()
            result = bench_backend(backend, args, wrk, workdir)
            verify, purge = result["verify"], result["purge"]
            select_s = min(r["seconds"] for r in verify["select"])
            verify_s = min(r["seconds"] for r in verify["verify"])
            ratio = verify_s / select_s
            select_mib = max(r["peak_mib"] for r in verify["select"])
            verify_mib = max(r["peak_mib"] for r in verify["verify"])
            small_mib = verify["verify_small"][0]["peak_mib"]
            statuses = {r["status"] for r in verify["verify"]}
            n = args.records
            past_retention = n + n // 10  # both sites' records are past their retention
            print(f"== {backend}: {n:,} records appended in {result['load_seconds']:.0f} s")
            ok = ratio <= 2 and statuses == {"amber"} and verify_mib <= small_mib * 1.25 + 16
            failed |= not ok
            print(f"verify-log  {verify_s:6.1f} s  ({n / verify_s:,.0f} records/s, status {'/'.join(statuses)})"
                  f"  plain SELECT {select_s:6.1f} s  ratio {ratio:4.2f} (budget <= 2.00)  {'PASS' if ratio <= 2 else 'FAIL'}")
            print(f"peak RSS    verify {verify_mib:.0f} MiB at {n:,}, {small_mib:.0f} MiB at {n // 10:,}; "
                  f"plain SELECT {select_mib:.0f} MiB  {'flat' if verify_mib <= small_mib * 1.25 + 16 else 'NOT FLAT'}")
            baseline = statistics.mean([purge["before"]["rps"], purge["after"]["rps"]])
            during = purge["during"]
            write_ratio = during["rps"] / baseline
            errors = during["non_2xx"] + purge["before"]["non_2xx"] + purge["after"]["non_2xx"]
            good = write_ratio >= 0.70 and errors == 0 and not during["socket_errors"] and purge["purge_exit"] == 0
            good &= purge["purge_outlasted_load"]
            failed |= not good
            if purge["purge_interrupted"]:
                rate = purge["purged"] / purge["purge_seconds"]
                print(f"purge       {purge['purged']:,} of {past_retention:,} expired records in {purge['purge_seconds']:.0f} s, then "
                      f"interrupted (Ctrl-C, as an operator may); at {rate:,.0f} records/s all take about {past_retention / max(rate, 1):,.0f} s")
            else:
                print(f"purge       {past_retention:,} records in {purge['purge_seconds']:.0f} s (exit {purge['purge_exit']}, "
                      f"{'ran through the whole load window' if purge['purge_outlasted_load'] else 'FINISHED BEFORE THE LOAD WINDOW ENDED'})")
            print(f"writes      {during['rps']:.0f} req/s during purge vs {baseline:.0f} without "
                  f"(before {purge['before']['rps']:.0f}, after {purge['after']['rps']:.0f}); ratio {write_ratio:4.2f} "
                  f"(budget >= 0.70); non-2xx {errors}; p99 {during['p99_ms']:.0f} ms vs {purge['before']['p99_ms']:.0f} ms  "
                  f"{'PASS' if good else 'FAIL'}")
            print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
