"""Fixtures: a throwaway database (SQLite, or PostgreSQL when COOKIEGATE_TEST_DATABASE_URL is set),
migrated once per session and emptied after each test; the app, its client and CLI runner;
and a live gunicorn server for tests that need real HTTP.

Under pytest-xdist (`make test` runs TEST_WORKERS processes) each worker is a session of its own:
its own database (cookiegate_test_<worker>_<random> on PostgreSQL, a file under its own basetemp
on SQLite), its own live server and browser, so tests of different workers never share rows."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cookiegate import create_app
from cookiegate.config import normalise_database_url
from cookiegate.extensions import db

from .support import LiveServer, make_site

# Random-looking, as production insists (config.key_strength_bits); fixed, so runs are alike.
TEST_KEYS = ["old-test-key-Qm7v2LxR9pKd4WfT8nHs3JcY6bZa1GeU", "new-test-key-Vt5rN8xC2kWq7LmP4hJd9FsB3gYz6RaE"]
# Tests hash passwords with cheap parameters (a login at OWASP's costs about 0.45 s); the
# production parameters and the rehash at login have tests of their own (test_passwords.py).
TEST_PASSWORD_HASH = "scrypt:1024:8:1"
SHOP_ORIGIN = "https://shop.example.dk"
# pytest-xdist's worker name (gw0, gw1 ...), in database names so a leftover says whose it was.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@contextmanager
def postgres_database(base_url: str):
    """A fresh database on the server of base_url; yields its URL, then drops it."""
    url = make_url(normalise_database_url(base_url))
    name = f"cookiegate_test_{WORKER}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    base = os.environ.get("COOKIEGATE_TEST_DATABASE_URL")
    if base:
        with postgres_database(base) as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'cookiegate-test.db'}"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


def app_config(database_url: str, instance_dir: Path, **overrides) -> dict:
    config = {
        "INSTANCE_PATH": str(instance_dir),
        "COOKIEGATE_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "COOKIEGATE_SECRET_KEYS": list(TEST_KEYS),
        "COOKIEGATE_GEOIP_DB": str(instance_dir / "no-such.mmdb"),
        "COOKIEGATE_RATELIMIT": "10000 per minute",
        "COOKIEGATE_PASSWORD_HASH": TEST_PASSWORD_HASH,
        "TESTING": True,
    }
    config.update(overrides)
    if config["COOKIEGATE_ENV"] == "production" and "COOKIEGATE_PASSWORD_HASH" not in overrides:
        del config["COOKIEGATE_PASSWORD_HASH"]  # production insists on OWASP's parameters
    return config


@pytest.fixture(scope="session")
def migrated(database_url, instance_dir):
    from flask_migrate import upgrade

    app = create_app(app_config(database_url, instance_dir))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


def empty_database() -> None:
    """Every row gone and ids counted from 1 again. On PostgreSQL, DELETE and setval: TRUNCATE of
    the 19 tables took 0.48 s a test (new files for every table), DELETE 0.02 s."""
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name != "alembic_version"]
    for table in tables:
        db.session.execute(table.delete())
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(
            "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'S' AND n.nspname = current_schema()"
        ))
    db.session.commit()


@pytest.fixture
def make_app(migrated, instance_dir):
    """Build apps on the test database (several apps stand for several server processes)."""
    apps = []

    def build(**overrides):
        app = create_app(app_config(migrated, instance_dir, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app
        db.session.remove()
        empty_database()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def site(app):
    """A committed site on https://shop.example.dk with Google Analytics and the Meta pixel."""
    return make_site(origins=[SHOP_ORIGIN, "http://localhost:5000"])


@pytest.fixture(scope="session")
def live_server(migrated, tmp_path_factory):
    """gunicorn with the shipped config, two sync workers, on the test database."""
    server = LiveServer(migrated, tmp_path_factory.mktemp("live"), secret_keys=TEST_KEYS)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_site(live_server, app):
    """A site whose origins include the live server's own and a second test origin."""
    return make_site(origins=[SHOP_ORIGIN, live_server.url, "http://localhost:%d" % live_server.port])


def fresh_database(tmp_path):
    """Another empty database on the backend under test (for migration tests)."""
    base = os.environ.get("COOKIEGATE_TEST_DATABASE_URL")
    return postgres_database(base) if base else nullcontext(f"sqlite:///{tmp_path}/fresh.db")
