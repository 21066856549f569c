#!/usr/bin/env python3
"""A PostgreSQL outage under load: nothing acknowledged may be lost, nothing stored twice.

    .venv/bin/python benchmarks/faults.py [--clients 16] [--seconds 40] [--stop-at 10] [--outage 10]

Runs the production setup (gunicorn with gunicorn.conf.py) on a private PostgreSQL cluster
(initdb into a temporary directory, its own port; never the machine's shared server). Clients
post consents the way the banner does (a fresh Idempotency-Key per choice, resent with the same
key after a 503 or a broken connection until acknowledged) and ask for decisions with the token
they got. The cluster is stopped `--stop-at` seconds in, for `--outage` seconds, then started.
Prints: requests, acknowledged, stored, lost (acknowledged but not stored: must be 0), duplicate
keys (one key stored more than once: 0), 5xx other than 503 (0), decision answers that were not
200 (0), and the seconds from the restart until writes succeed again.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.pgcluster import PrivateCluster, available  # noqa: E402
from tests.support import free_port  # noqa: E402

BIN = Path(sys.executable).parent
# Fixed but random-looking: production refuses keys with too little variety.
KEYS = "faults-old-key-Hv3mQ8xL2rTz7WkB5nPd9JsF4c,faults-new-key-Yg6uE1oKa9Rt4XvM2wQj7LbN5s"
ORIGIN = "https://shop.example.dk"
CONSENT = {"choices": {"statistics": True, "marketing": False}, "method": "custom", "policy_version": 1,
           "url": "https://shop.example.dk/kurv", "language": "da", "gpc": False}


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.statuses: collections.Counter = collections.Counter()
        self.connection_errors = 0
        self.acknowledged: dict[str, str] = {}  # idempotency key -> consent id
        self.unacknowledged: list[str] = []  # keys given up on at the end of the run
        self.key_answers: dict[str, set] = collections.defaultdict(set)
        self.decisions_not_200 = 0
        self.decisions = 0
        self.other_5xx = 0
        self.write_times: list[float] = []  # monotonic times of fresh 201s

    def count(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[status] += 1
            if status >= 500 and status != 503:
                self.other_5xx += 1


def client_loop(base: str, site: str, tally: Tally, stop: threading.Event, finish_by: float) -> None:
    session = requests.Session()
    token = None
    while not stop.is_set():
        key = uuid.uuid4().hex
        body = json.dumps(dict(CONSENT, idempotency_key=key))
        while True:  # as the banner does: resend with the same key until acknowledged
            try:
                response = session.post(f"{base}/api/v1/sites/{site}/consents", data=body,
                                        headers={"Origin": ORIGIN, "Content-Type": "text/plain"}, timeout=15)
            except requests.RequestException:
                with tally.lock:
                    tally.requests += 1
                    tally.connection_errors += 1
                response = None
            if response is not None:
                tally.count(response.status_code)
                if response.status_code == 201:
                    answer = response.json()
                    with tally.lock:
                        tally.acknowledged[key] = answer["consent_id"]
                        tally.key_answers[key].add(answer["consent_id"])
                        if response.headers.get("Idempotent-Replayed") != "true":
                            tally.write_times.append(time.monotonic())
                    token = answer["token"]
                    break
            if time.monotonic() > finish_by:
                with tally.lock:
                    tally.unacknowledged.append(key)
                break
            time.sleep(0.25)
        if token:
            try:
                decision = session.get(f"{base}/api/v1/sites/{site}/decision", headers={"X-Cookiegate-Token": token}, timeout=15)
                status = decision.status_code
                ok = status == 200 and decision.json()["status"] == "given"
            except requests.RequestException:
                status, ok = 0, False
            tally.count(status) if status else None
            with tally.lock:
                tally.decisions += 1
                if not ok:
                    tally.decisions_not_200 += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--stop-at", type=float, default=10)
    parser.add_argument("--outage", type=float, default=10)
    parser.add_argument("--keep-log", metavar="FILE", help="copy the server's error log here")
    parser.add_argument("--freeze", action="store_true", help="SIGSTOP the whole cluster instead of stopping it (a hung server)")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "5")))
    args = parser.parse_args()
    if not available():
        print("needs PostgreSQL's initdb (/usr/lib/postgresql/15/bin) and runuser", file=sys.stderr)
        return 2

    with PrivateCluster() as cluster, tempfile.TemporaryDirectory() as workdir:
        env = dict(os.environ, COOKIEGATE_ENV="production", COOKIEGATE_DATABASE_URL=cluster.url, COOKIEGATE_SECRET_KEYS=KEYS,
                   COOKIEGATE_INSTANCE_PATH=workdir, COOKIEGATE_RATELIMIT="1000000 per minute", COOKIEGATE_STATE_TTL="5",
                   COOKIEGATE_ACCESS_LOG=os.devnull, COOKIEGATE_ERROR_LOG=str(Path(workdir) / "error.log"),
                   WEB_CONCURRENCY=str(args.workers), COOKIEGATE_RATELIMIT_PER_PROCESS="yes")
        flask = [str(BIN / "flask"), "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        created = subprocess.run([*flask, "cookiegate", "create-site", "Faults", "--origin", ORIGIN],
                                 cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        site = created.stdout.strip().splitlines()[-1]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}", "wsgi:app"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if requests.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.2)
            tally, stop = Tally(), threading.Event()
            started = time.monotonic()
            finish_by = started + args.seconds + 30
            threads = [threading.Thread(target=client_loop, args=(base, site, tally, stop, finish_by), daemon=True) for _ in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(args.stop_at)
            cluster.freeze() if args.freeze else cluster.stop()
            stopped_at = time.monotonic()
            print(f"cluster {'frozen' if args.freeze else 'stopped'} at {stopped_at - started:.1f} s", flush=True)
            time.sleep(args.outage)
            cluster.thaw() if args.freeze else cluster.start()
            restarted_at = time.monotonic()
            print(f"cluster started again at {restarted_at - started:.1f} s", flush=True)
            time.sleep(max(0.0, args.seconds - (restarted_at - started)))
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        finally:
            server.terminate()
            server.wait(timeout=30)
        engine = create_engine(cluster.url)
        with engine.connect() as connection:
            stored_ids = [row[0] for row in connection.execute(text("SELECT consent_id FROM consent_records"))]
            keys_stored = connection.execute(text("SELECT count(*) FROM idempotency_keys")).scalar()
        engine.dispose()
        error_log = (Path(workdir) / "error.log").read_text(errors="replace")
        if args.keep_log:
            Path(args.keep_log).write_text(error_log)

    stored = collections.Counter(stored_ids)
    acknowledged = set(tally.acknowledged.values())
    lost = len(acknowledged - set(stored))
    # One key, one record. A duplicate is a key answered with two consent ids, a consent id stored
    # twice, or a stored record that no acknowledged key names beyond the keys given up on.
    unnamed = len(set(stored) - acknowledged)
    duplicates = (
        sum(1 for ids in tally.key_answers.values() if len(ids) > 1)
        + sum(count - 1 for count in stored.values() if count > 1)
        + max(0, unnamed - len(tally.unacknowledged))
    )
    after_restart = [t - restarted_at for t in tally.write_times if t >= restarted_at]
    during = [t for t in tally.write_times if stopped_at <= t < restarted_at]
    print()
    print(f"clients                       {args.clients} for {args.seconds:.0f} s, PostgreSQL {'frozen (SIGSTOP)' if args.freeze else 'stopped'} "
          f"{args.stop_at:.0f}-{args.stop_at + args.outage:.0f} s, {args.workers} workers")
    print(f"requests                      {tally.requests}")
    print(f"  by status                   {dict(sorted(tally.statuses.items()))}, connection errors {tally.connection_errors}")
    print(f"acknowledged                  {len(acknowledged)}")
    print(f"stored                        {len(stored_ids)} (idempotency keys kept: {keys_stored})")
    print(f"lost                          {lost}")
    print(f"duplicate keys                {duplicates}")
    print(f"5xx other than 503            {tally.other_5xx}")
    print(f"decisions not 200/given       {tally.decisions_not_200} of {tally.decisions}")
    print(f"writes acknowledged in outage {len(during)}")
    print(f"seconds until writes succeed  {after_restart[0]:.2f}" if after_restart else "seconds until writes succeed  never")
    print(f"given up (no answer by end)   {len(tally.unacknowledged)}")
    print(f"error log                     {len(error_log.splitlines())} lines, {error_log.count('Traceback')} tracebacks, "
          f"{error_log.count('database unavailable')} outage starts, {error_log.count('available again')} outage ends")
    ok = lost == 0 and duplicates == 0 and tally.other_5xx == 0 and tally.decisions_not_200 == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
