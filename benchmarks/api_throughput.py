#!/usr/bin/env python3
"""Throughput of the decision endpoint and the consent POST under gunicorn, as ratios
against bare-Flask baselines measured in the same run with the same gunicorn settings.

    .venv/bin/python benchmarks/api_throughput.py [--seconds 8] [--rounds 3] [--backends sqlite,postgres]

Budgets (issue 2, raised by issues 11 and 12):
  decision req/s     >= 80 % of a bare Flask route returning a constant JSON body
  consent POST req/s >= 75 % of a bare Flask route inserting one comparable row (SQLite, WAL)
The PostgreSQL figures are printed too. Load comes from wrk (installed with apt-get when
missing) on the same machine; rounds alternate baseline and candidate, and the median counts.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("COOKIEGATE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
# Fixed but random-looking: production refuses keys with too little variety.
KEYS = "bench-old-key-Lq8vR3xT6nWk2PzH9dMs4JcY7bFa5GeU,bench-new-key-Ct4rN7xB2kWq9LmP5hJd8FsV3gYz6RaE"
ORIGIN = "https://shop.example.dk"
CONSENT = {"choices": {"statistics": True, "marketing": False}, "method": "custom", "policy_version": 1,
           "url": "https://shop.example.dk/kurv?x=1", "language": "da", "gpc": False}


def ensure_wrk() -> str:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """One app under gunicorn with the shipped config; only the app differs between runs."""

    def __init__(self, app: str, env: dict, workers: int, logdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logdir / f"{app.replace(':', '_')}-{self.port}.log"
        # Each worker counts rate limits in its own memory, as in the runs these figures compare with
        # (production refuses that unless told: COOKIEGATE_RATELIMIT_PER_PROCESS).
        full_env = dict(os.environ, **env, WEB_CONCURRENCY=str(workers), COOKIEGATE_RATELIMIT_PER_PROCESS="yes",
                        COOKIEGATE_ACCESS_LOG="/dev/null", COOKIEGATE_ERROR_LOG=str(self.log),
                        PYTHONPATH=f"{ROOT}:{ROOT / 'benchmarks'}")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{self.port}", app],
            cwd=ROOT, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def wait(self, path: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + path, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        log = self.log.read_text() if self.log.exists() else "(no log)"
        raise RuntimeError(f"server did not start:\n{log[-3000:]}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=20)


def run_wrk(wrk: str, url: str, script: Path, seconds: int, connections: int) -> dict:
    out = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = re.search(r"Socket errors: .*", out)
    return {"rps": rps, "p99_ms": float(p99.group(1)) * scale,
            "non_2xx": int(errors.group(1)) if errors else 0, "socket_errors": failed.group(0) if failed else ""}


def lua(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here (ASCII only)


def prepare_cookiegate(database_url: str, workdir: Path) -> tuple[dict, str]:
    env = {"COOKIEGATE_ENV": "production", "COOKIEGATE_DATABASE_URL": database_url, "COOKIEGATE_SECRET_KEYS": KEYS,
           "COOKIEGATE_INSTANCE_PATH": str(workdir / "instance"), "COOKIEGATE_RATELIMIT": "10000000 per minute",
           "COOKIEGATE_GEOIP_DB": str(workdir / "none.mmdb")}
    full = dict(os.environ, **env)
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=full, check=True, capture_output=True)
    out = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "cookiegate", "create-site", "Bench", "--origin", ORIGIN,
                          "--ga", "G-BENCH123", "--fb", "1234567890"], cwd=ROOT, env=full, check=True, capture_output=True, text=True).stdout
    return env, out.strip().splitlines()[-1]


def collect_tokens(url: str, site_key: str, count: int = 200) -> list[str]:
    session = requests.Session()
    tokens = []
    for i in range(count):
        body = dict(CONSENT, method=("accept_all", "reject_all", "custom")[i % 3])
        if i % 3 < 2:
            del body["choices"]  # accept_all / reject_all need none (null is refused)
        response = session.post(f"{url}/api/v1/sites/{site_key}/consents", data=json.dumps(body),
                                headers={"Origin": ORIGIN, "Content-Type": "text/plain"}, timeout=10)
        response.raise_for_status()
        tokens.append(response.json()["token"])
    return tokens


def database_for(backend: str, workdir: Path, name: str):
    if backend == "sqlite":
        return f"sqlite:///{workdir / (name + '.db')}", None
    import psycopg

    db_name = f"cookiegate_bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{db_name}"')
    base = PG_URL.rsplit("/", 1)[0]
    return f"{base}/{db_name}", db_name


def drop_database(db_name) -> None:
    if db_name:
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def measure(pairs, wrk, seconds, rounds, connections):
    """pairs: name -> (server, path, script); alternate them, `rounds` times each."""
    results = {name: [] for name in pairs}
    for _ in range(rounds):
        for name, (server, path, script) in pairs.items():
            results[name].append(run_wrk(wrk, server.url + path, script, seconds, connections))
    return results


def summary(runs: list[dict]) -> dict:
    return {"rps": statistics.median(r["rps"] for r in runs), "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "non_2xx": sum(r["non_2xx"] for r in runs), "socket_errors": "; ".join(r["socket_errors"] for r in runs if r["socket_errors"])}


def bench_backend(backend: str, args, wrk: str, workdir: Path) -> list[tuple]:
    cg_url, cg_db = database_for(backend, workdir, "cookiegate")
    base_url, base_db = database_for(backend, workdir, "baseline")
    servers = []
    try:
        env, site_key = prepare_cookiegate(cg_url, workdir)
        cookiegate = Gunicorn("wsgi:app", env, args.workers, workdir)
        baseline = Gunicorn("baseline_app:app", {"BASELINE_DATABASE_URL": base_url, "COOKIEGATE_ENV": "production"}, args.workers, workdir)
        servers = [cookiegate, baseline]
        cookiegate.wait("/healthz")
        baseline.wait("/constant")
        tokens = collect_tokens(cookiegate.url, site_key)
        decision_lua = lua(workdir / "decision.lua", (
            "local tokens = {" + ",".join(lua_string(t) for t in tokens) + "}\n"
            "local i = 0\n"
            "request = function()\n  i = i + 1\n"
            f"  return wrk.format('GET', '/api/v1/sites/{site_key}/decision', {{['X-Cookiegate-Token'] = tokens[(i % #tokens) + 1]}})\nend\n"
        ))
        constant_lua = lua(workdir / "constant.lua", "wrk.method = 'GET'\n")
        post_lua = lua(workdir / "post.lua", (
            "wrk.method = 'POST'\n"
            f"wrk.body = {lua_string(json.dumps(CONSENT))}\n"
            f"wrk.headers['Origin'] = {lua_string(ORIGIN)}\n"
            "wrk.headers['Content-Type'] = 'text/plain'\n"
        ))
        rows = []
        for label, candidate, base, budget in (
            ("decision", (cookiegate, f"/api/v1/sites/{site_key}/decision", decision_lua), (baseline, "/constant", constant_lua), 0.80),
            ("consent POST", (cookiegate, f"/api/v1/sites/{site_key}/consents", post_lua), (baseline, "/insert", post_lua), 0.75),
        ):
            results = measure({"candidate": candidate, "baseline": base}, wrk, args.seconds, args.rounds, args.connections)
            c, b = summary(results["candidate"]), summary(results["baseline"])
            rows.append((backend, label, c, b, c["rps"] / b["rps"], budget))
        return rows
    finally:
        for server in servers:
            server.stop()
        drop_database(cg_db)
        drop_database(base_db)


def postgres_reachable() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), 2).close()
        return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers, for both apps")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    wrk = ensure_wrk()
    backends = [b for b in args.backends.split(",") if b != "postgres" or postgres_reachable()]
    print(f"gunicorn: {args.workers} sync workers each; wrk: 2 threads, {args.connections} connections, "
          f"{args.seconds}s x {args.rounds} alternating rounds; median counts.\n")
    print(f"{'backend':9} {'endpoint':13} {'req/s':>8} {'p99 ms':>8} {'baseline':>9} {'p99 ms':>8} {'ratio':>6} {'budget':>7}  verdict")
    failed = False
    with tempfile.TemporaryDirectory(prefix="cookiegate-bench-") as tmp:
        for backend in backends:
            for backend_name, label, c, b, ratio, budget in bench_backend(backend, args, wrk, Path(tmp)):
                gated = backend_name == "sqlite" or label == "decision"
                verdict = ("PASS" if ratio >= budget else "FAIL") if gated else "(stated)"
                failed |= gated and ratio < budget
                errors = f"  non-2xx: {c['non_2xx']}" if c["non_2xx"] else ""
                print(f"{backend_name:9} {label:13} {c['rps']:8.0f} {c['p99_ms']:8.1f} {b['rps']:9.0f} {b['p99_ms']:8.1f} "
                      f"{ratio:6.2f} {budget:7.0%}  {verdict}{errors}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
