"""Database helpers that differ by backend: an INSERT with ON CONFLICT, and a client-side
deadline for PostgreSQL statements.

`statement_timeout` is enforced by the server, so it cannot help when the server itself is frozen
(SIGSTOP, a hung storage volume): the kernel still accepts the query and the worker waits forever.
psycopg can bound each wait; a connection that misses the deadline is closed (SQLAlchemy then
drops it from the pool) and the request answers 503 (db_errors.py).
"""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db


def insert(model):
    """An INSERT that knows ON CONFLICT on the backend in use (SQLite and PostgreSQL both have it)."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)


def install_client_deadline(app, seconds: float) -> None:
    """Every connection of the app's (PostgreSQL) engine waits at most `seconds` for an answer."""
    import psycopg  # only PostgreSQL installs need it
    from psycopg import errors

    class DeadlineConnection(psycopg.Connection):
        def wait(self, gen, interval=0.1, timeout=None):  # type: ignore[override]
            try:
                return super().wait(gen, interval=interval, timeout=seconds if timeout is None else timeout)
            except errors._WaitTimeout:
                self.pgconn.finish()  # the connection is mid-query and useless now: closed, marked broken
                raise psycopg.OperationalError("no answer from the database within the client timeout") from None

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, connection_record, cargs, cparams):
        return DeadlineConnection.connect(*cargs, **cparams)
