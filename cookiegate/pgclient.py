"""A client-side deadline for PostgreSQL statements.

`statement_timeout` is enforced by the server, so it cannot help when the server itself is frozen
(SIGSTOP, a hung storage volume): the kernel still accepts the query and the worker waits forever.
psycopg can bound each wait; a connection that misses the deadline is closed (SQLAlchemy then
drops it from the pool) and the request answers 503.
"""
from __future__ import annotations

import psycopg
from psycopg import errors

from .extensions import db


class DeadlineConnection(psycopg.Connection):
    client_timeout: float = 6.0

    def wait(self, gen, interval=0.1, timeout=None):  # type: ignore[override]
        try:
            return super().wait(gen, interval=interval, timeout=self.client_timeout if timeout is None else timeout)
        except errors._WaitTimeout:
            self.pgconn.finish()  # the connection is mid-query and useless now: closed, marked broken
            raise psycopg.OperationalError("no answer from the database within the client timeout") from None


def install(app, seconds: float) -> None:
    """Every connection of the app's engine waits at most `seconds` for an answer."""
    from sqlalchemy import event

    connection_class = type("AppDeadlineConnection", (DeadlineConnection,), {"client_timeout": seconds})
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, connection_record, cargs, cparams):
        return connection_class.connect(*cargs, **cparams)
