"""GET /healthz: is the service up, can its database take writes, has it a location database.

Cheap on purpose (load balancers call it every few seconds): on SQLite, BEGIN IMMEDIATE and a
rollback (fails when the file is locked or read-only) plus the free space of its file system; on
PostgreSQL, one query that the server is reachable and accepts writes (not a read-only standby or
a read-only default). During an outage the answer is 503 at once for a second or two instead of
each probe waiting for a timeout.
"""
from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db
from .infra import db_errors

bp = Blueprint("health", __name__)

# Below this much free space SQLite will soon fail to commit: report it before it does.
MIN_FREE_BYTES = 16 * 1024 * 1024
# While the database is known to be out, probes answer from memory this long.
PROBE_HOLD_SECONDS = 2.0


def geoip_status() -> str:
    reader = current_app.extensions.get("cookiegate.geoip")
    return "ok" if reader is not None and reader.available() else "missing"


def _sqlite_free_bytes() -> int:
    path = db.engine.url.database
    if not path or path == ":memory:":
        return MIN_FREE_BYTES
    stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
    return stats.f_bavail * stats.f_frsize


def database_status() -> str:
    """'ok', 'read_only', 'full' or 'unreachable'."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        # Takes the write lock and writes the header's user_version (unchanged) in a transaction that
        # is rolled back: fails on a locked or read-only database, touches nothing on disk.
        version = connection.exec_driver_sql("PRAGMA user_version").scalar()
        pages, max_pages = (connection.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("page_count", "max_page_count"))
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            connection.exec_driver_sql(f"PRAGMA user_version = {int(version)}")
        finally:
            connection.exec_driver_sql("ROLLBACK")
        if _sqlite_free_bytes() < MIN_FREE_BYTES or pages >= max_pages:
            return "full"
        return "ok"
    writable = db.session.execute(
        text("SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'")
    ).scalar()
    return "ok" if writable else "read_only"


@bp.get("/healthz")
def healthz() -> Response:
    tracker = db_errors.current()
    if tracker.active and time.monotonic() - tracker.last_failure < PROBE_HOLD_SECONDS:
        database = tracker.kind
    else:
        try:
            database = database_status()
        except SQLAlchemyError as error:
            reason = db_errors.unavailable_reason(error) or type(error).__name__
            tracker.begin(reason)
            database = tracker.kind
        finally:
            try:
                db.session.rollback()
            except SQLAlchemyError:
                pass
        if database != "ok":
            tracker.last_failure = time.monotonic()
        else:
            db_errors.committed()  # the probe took the write lock (SQLite) or saw a writable server
    body = {"status": "ok" if database == "ok" else "degraded", "database": database, "geoip": geoip_status()}
    response = jsonify(body)
    response.status_code = 200 if database == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    if database != "ok":
        response.headers["Retry-After"] = str(db_errors.RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
