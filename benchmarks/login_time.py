#!/usr/bin/env python3
"""What a login costs with the password hashing before and after issue 23: werkzeug's default
scrypt (N=2^15, r=8, p=1) against OWASP's recommendation (N=2^17, r=8, p=1), both measured in
this run through the real login form (POST /login with its CSRF token, in one process).

    .venv/bin/python benchmarks/login_time.py [--logins 20]

Prints the median of N logins for each, their ratio, the one-time cost of the first login after
the upgrade (the old hash checked, the new one made), and a wrong password beside an unknown
e-mail (which checks a dummy hash at the configured parameters, so the two cost the same).
There is no budget: the figure is what the stronger hash costs each person once per login.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEFORE = "scrypt:32768:8:1"  # werkzeug's generate_password_hash default
AFTER = "scrypt:131072:8:1"  # OWASP Password Storage Cheat Sheet (config.PASSWORD_HASH)
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def timed_login(app, email: str, password: str = PASSWORD) -> tuple[float, int]:
    client = app.test_client()
    with app.app_context():
        token = CSRF.search(client.get("/login").text).group(1)
    with app.app_context():
        started = time.perf_counter()
        answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
        return time.perf_counter() - started, answer.status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--logins", type=int, default=20)
    args = parser.parse_args()

    from flask_migrate import upgrade
    from werkzeug.security import generate_password_hash

    from cookiegate import create_app
    from cookiegate.auth.users import create_user
    from cookiegate.extensions import db
    from cookiegate.models import User

    work = Path(tempfile.mkdtemp(prefix="cookiegate-login-time-"))

    def app_with(method: str):
        return create_app({"INSTANCE_PATH": str(work), "COOKIEGATE_ENV": "testing", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{work}/bench.db",
                           "COOKIEGATE_SECRET_KEYS": ["bench-key-Pw7nK2xV9qLm4TzR8hCd3JsB6f"], "COOKIEGATE_GEOIP_DB": str(work / "none.mmdb"),
                           "COOKIEGATE_PASSWORD_HASH": method, "COOKIEGATE_LOGIN_RATELIMIT": "100000 per minute"})

    before, after = app_with(BEFORE), app_with(AFTER)
    with before.app_context():
        upgrade()
        create_user("before@example.dk", PASSWORD, "marketer")
        create_user("upgraded@example.dk", PASSWORD, "marketer")
        db.session.commit()
    with after.app_context():
        create_user("after@example.dk", PASSWORD, "marketer")
        db.session.commit()

    results = {}
    for label, app, email in (("before", before, "before@example.dk"), ("after", after, "after@example.dk")):
        timed_login(app, email)  # warm-up: templates, connections
        times = []
        for _ in range(args.logins):
            seconds, status = timed_login(app, email)
            assert status == 303, status
            times.append(seconds)
        results[label] = statistics.median(times)
    upgrade_seconds, status = timed_login(after, "upgraded@example.dk")
    assert status == 303
    with after.app_context():
        assert db.session.query(User.password_hash).filter_by(email="upgraded@example.dk").scalar().startswith(AFTER + "$")
    # Five each: within the free failures of COOKIEGATE_LOGIN_FREE_FAILURES, so none waits.
    wrong = statistics.median(timed_login(after, "after@example.dk", "wrong password!")[0] for _ in range(5))
    unknown = statistics.median(timed_login(after, "nobody@example.dk")[0] for _ in range(5))
    hash_alone = statistics.median(_time(lambda: generate_password_hash(PASSWORD, method=AFTER)) for _ in range(5))

    print(f"login, median of {args.logins}   {BEFORE:>18}: {results['before'] * 1000:7.0f} ms")
    print(f"login, median of {args.logins}   {AFTER:>18}: {results['after'] * 1000:7.0f} ms")
    print(f"ratio after / before                        : {results['after'] / results['before']:7.2f}")
    print(f"first login after the upgrade (rehash)      : {upgrade_seconds * 1000:7.0f} ms (once per user)")
    print(f"wrong password, median of 5                 : {wrong * 1000:7.0f} ms")
    print(f"unknown e-mail (dummy hash), median of 5    : {unknown * 1000:7.0f} ms (as long as a wrong password)")
    print(f"one {AFTER} hash alone, median of 5: {hash_alone * 1000:7.0f} ms (128 MiB each)")
    return 0


def _time(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
