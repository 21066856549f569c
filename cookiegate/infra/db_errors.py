"""Database outages: told apart from bugs, answered 503, logged once when they start and end.

A database that is down, frozen, full or read-only is not a bug in a request: each affected
request gets `503 service_unavailable` with `Retry-After` (the banner retries with the same
idempotency key), and the log gets one line when the outage starts (its reason, never request
data), and one when it ends with what it cost. A traceback per request would fill the very disk
that may be full.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Optional

from flask import Flask, current_app
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5

# SQLite result codes (sqlite_errorname) that mean "cannot be served now", not "wrong code".
_SQLITE_UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL", "SQLITE_NOMEM", "SQLITE_INTERRUPT")
# PostgreSQL SQLSTATE classes: 08 connection, 53 insufficient resources (disk full, memory,
# connections), 57 operator intervention (shutdown, statement timeout), 58 system error (I/O),
# 40 transaction rollback (serialisation, deadlock: retrying helps); 25006 read-only transaction,
# 55P03 lock not available (lock_timeout: writes queued on a site row after a frozen server).
_PG_UNAVAILABLE_CLASSES = ("08", "53", "57", "58", "40")
_PG_UNAVAILABLE_STATES = ("25006", "55P03")


def kind_of(reason: str) -> str:
    """What /healthz says about the database for an outage with this reason."""
    if "FULL" in reason or "SQLSTATE 53100" in reason:
        return "full"
    if "READONLY" in reason or "SQLSTATE 25006" in reason:
        return "read_only"
    return "unreachable"


def unavailable_reason(error: BaseException) -> Optional[str]:
    """A short reason when `error` means the database cannot serve now; None for anything else (a bug)."""
    if isinstance(error, sa_exc.TimeoutError):
        return "connection pool exhausted"
    if not isinstance(error, sa_exc.DBAPIError):
        return None
    original = error.orig
    if isinstance(original, sqlite3.Error):
        name = getattr(original, "sqlite_errorname", "") or ""
        if name.startswith(_SQLITE_UNAVAILABLE):
            return f"SQLite {name}"
        text = str(original).lower()
        if any(s in text for s in ("locked", "disk", "readonly", "read-only", "unable to open")):
            return f"SQLite {text[:60]}"
        return None
    state = getattr(original, "sqlstate", None)
    if state:
        if state[:2] in _PG_UNAVAILABLE_CLASSES or state in _PG_UNAVAILABLE_STATES:
            return f"{type(original).__name__} (SQLSTATE {state})"
        return None
    # No SQLSTATE: the driver lost or never had a connection (refused, timed out, closed).
    if error.connection_invalidated or isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return f"{type(original).__name__}: connection failed"
    return None


class Outage:
    """One per process: is the database out, since when, and how many requests it cost."""

    def __init__(self) -> None:
        self.active = False
        self.started_at = 0.0
        self.failed = 0
        self.stale_answers = 0
        self.last_failure = 0.0
        self.kind = "unreachable"
        self._lock = threading.Lock()

    def begin(self, reason: str) -> None:
        self.last_failure = time.monotonic()
        self.kind = kind_of(reason)
        with self._lock:
            if self.active:
                return
            self.active, self.started_at, self.failed, self.stale_answers = True, time.monotonic(), 0, 0
        log.warning("database unavailable (%s): answering 503 to writes, serving the last state read", reason)

    def failed_request(self, reason: str) -> None:
        self.begin(reason)
        self.failed += 1

    def served_stale(self, reason: str) -> None:
        self.begin(reason)
        self.stale_answers += 1

    def end(self) -> None:
        if not self.active:
            return
        with self._lock:
            if not self.active:
                return
            self.active = False
            seconds = time.monotonic() - self.started_at
        log.warning(
            "database available again after %.1f s: %d requests answered 503, %d state refreshes served stale",
            seconds, self.failed, self.stale_answers,
        )


def init_app(app: Flask) -> None:
    app.extensions["cookiegate.outage"] = Outage()


def current() -> Outage:
    return current_app.extensions["cookiegate.outage"]


def committed() -> None:
    """A write was committed: whatever outage there was is over. (Reads alone prove nothing:
    a locked, full or read-only database still answers them.)"""
    tracker = current_app.extensions["cookiegate.outage"]
    if tracker.active:
        tracker.end()
