"""Small database helpers that differ by backend."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db


def insert(model):
    """An INSERT that knows ON CONFLICT on the backend in use (SQLite and PostgreSQL both have it)."""
    dialect = db.session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model)
