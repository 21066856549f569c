"""`make test`: every check, then both database passes, each run even when one before it failed;
at the end one line per pass with its counts, and the exit status says whether all passed.

    python tests/all_passes.py            (what `make test` runs, with the make targets below)

A pass is a make target (`make test-sqlite` ...). The PostgreSQL pass runs when
COOKIEGATE_TEST_DATABASE_URL is set or 127.0.0.1:5432 answers; otherwise it is skipped, except
with CI=true, where a missing PostgreSQL fails the run."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time

MAKE = os.environ.get("MAKE", "make")
# pytest's closing line ("= 3 failed, 700 passed, 9 skipped in 301.2s =") and node's ("# pass 21").
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
PYTEST_CLOSING = re.compile(r"^=+ .*\bin [\d.]+s")
NODE_COUNT = re.compile(r"^# (pass|fail|skipped|cancelled) (\d+)$")


def postgres_reachable() -> bool:
    if os.environ.get("COOKIEGATE_TEST_DATABASE_URL"):
        return True
    try:
        socket.create_connection(("127.0.0.1", 5432), 2).close()
        return True
    except OSError:
        return False


def run(target: str) -> tuple[int, dict[str, int], float]:
    """Runs `make target`, echoing its output; its exit status, the counts it closed with, seconds."""
    started = time.monotonic()
    counts: dict[str, int] = {}
    process = subprocess.Popen([MAKE, "--no-print-directory", target], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        text = line.strip()
        if PYTEST_CLOSING.match(text):
            for number, word in PYTEST_COUNT.findall(text):
                word = {"error": "failed", "errors": "failed", "xpassed": "failed", "xfailed": "skipped"}.get(word, word)
                counts[word] = counts.get(word, 0) + int(number)
        elif match := NODE_COUNT.match(text):
            word = {"pass": "passed", "fail": "failed", "cancelled": "failed", "skipped": "skipped"}[match[1]]
            counts[word] = counts.get(word, 0) + int(match[2])
    return process.wait(), counts, time.monotonic() - started


def main() -> int:
    passes = [("lint", "lint"), ("types", "typecheck"), ("banner unit tests", "test-banner"), ("SQLite", "test-sqlite")]
    results = []
    for name, target in passes:
        results.append((name, *run(target)))
    if postgres_reachable():
        results.append(("PostgreSQL", *run("test-postgres")))
    elif os.environ.get("CI") == "true":
        results.append(("PostgreSQL", 1, {}, 0.0))
        print("CI: PostgreSQL is required but neither COOKIEGATE_TEST_DATABASE_URL is set nor 127.0.0.1:5432 answers", file=sys.stderr)
    else:
        print("PostgreSQL not reachable: skipped the PostgreSQL pass")

    print("\n== make test ==")
    total: dict[str, int] = {}
    for name, status, counts, seconds in results:
        for word, number in counts.items():
            total[word] = total.get(word, 0) + number
        shown = ", ".join(f"{n} {w}" for w, n in sorted(counts.items())) or ("no tests" if status == 0 else "did not run")
        print(f"{name:>18}: {'ok' if status == 0 else 'FAILED'} ({shown}; {seconds:.0f} s)")
    # The plain closing line CI reads, over every pass; a pass that failed without counting a
    # failed test (a lint error, a crash, PostgreSQL missing) counts as one failure.
    failed = total.get("failed", 0) + sum(1 for _, status, counts, _ in results if status != 0 and not counts.get("failed"))
    print(f"total: {total.get('passed', 0)} passed, {failed} failed" + (f", {total['skipped']} skipped" if total.get("skipped") else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
