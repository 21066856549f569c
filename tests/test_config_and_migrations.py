"""Configuration from the environment, secret keys, and migrations that match the models."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from cookiegate import create_app
from cookiegate.config import ConfigError, normalise_database_url
from cookiegate.extensions import db

from .conftest import fresh_database
from .support import ROOT


def bare_config(tmp_path, **overrides):
    config = {"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
    config.update(overrides)
    return config


def test_development_key_is_generated_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("COOKIEGATE_SECRET_KEYS", raising=False)
    first = create_app(bare_config(tmp_path, COOKIEGATE_ENV="development"))
    second = create_app(bare_config(tmp_path, COOKIEGATE_ENV="development"))
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    key_file = tmp_path / "secret_keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_production_refuses_to_start_without_real_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("COOKIEGATE_SECRET_KEYS", raising=False)
    with pytest.raises(ConfigError, match="COOKIEGATE_SECRET_KEYS"):
        create_app(bare_config(tmp_path, COOKIEGATE_ENV="production"))
    with pytest.raises(ConfigError, match="shorter"):
        create_app(bare_config(tmp_path, COOKIEGATE_ENV="production", COOKIEGATE_SECRET_KEYS=["x" * 40, "secret"]))
    assert not (tmp_path / "secret_keys").exists()


def test_wsgi_refuses_to_start_in_production_without_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COOKIEGATE_")}
    env.update(COOKIEGATE_ENV="production", COOKIEGATE_INSTANCE_PATH=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "COOKIEGATE_SECRET_KEYS is not set" in result.stderr


def test_keys_rotate_from_the_environment(tmp_path, monkeypatch):
    first, second = "first-key-Xr4mT9qLw2Vz7KcB5nHd8JsF3p", "second-key-Ge6uY1oPa9Rt4WvM2xQk7LbN5"
    monkeypatch.setenv("COOKIEGATE_SECRET_KEYS", f"{first}, {second}")
    app = create_app(bare_config(tmp_path, COOKIEGATE_ENV="production"))
    assert app.config["COOKIEGATE_SECRET_KEYS"] == [first, second]
    assert app.config["SECRET_KEY"] == second


def test_settings_are_read_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("COOKIEGATE_TRUSTED_PROXIES", "two")
    with pytest.raises(ConfigError, match="COOKIEGATE_TRUSTED_PROXIES"):
        create_app(bare_config(tmp_path))
    monkeypatch.setenv("COOKIEGATE_TRUSTED_PROXIES", "-1")
    with pytest.raises(ConfigError):
        create_app(bare_config(tmp_path))
    monkeypatch.setenv("COOKIEGATE_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("COOKIEGATE_RATELIMIT_STORAGE", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("COOKIEGATE_RATELIMIT_KEY_PREFIX", "cookiegate-test-config")  # never the service's own keys
    app = create_app(bare_config(tmp_path))
    assert app.config["COOKIEGATE_TRUSTED_PROXIES"] == 1
    assert app.config["COOKIEGATE_RATELIMIT_STORAGE"] == "redis://127.0.0.1:6379/0"
    with pytest.raises(ConfigError, match="COOKIEGATE_ENV"):
        create_app(bare_config(tmp_path, COOKIEGATE_ENV="staging"))


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("COOKIEGATE_DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/cookiegate.db"


def test_postgres_urls_use_psycopg_3():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_creating_the_app_opens_no_database(tmp_path):
    url = f"sqlite:///{tmp_path}/never-opened.db"
    create_app(bare_config(tmp_path, SQLALCHEMY_DATABASE_URI=url))
    assert not (tmp_path / "never-opened.db").exists()


def test_models_and_migrations_agree(app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_migrations_go_down_to_empty_and_up_again(tmp_path, instance_dir):
    from flask_migrate import downgrade, upgrade

    with fresh_database(tmp_path) as url:
        app = create_app({"INSTANCE_PATH": str(instance_dir), "SQLALCHEMY_DATABASE_URI": url, "COOKIEGATE_ENV": "testing"})
        with app.app_context():
            upgrade()
            tables = set(inspect(db.engine).get_table_names())
            assert {"sites", "consent_records", "impression_counts", "users", "api_tokens", "audit_events"} <= tables
            downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
            upgrade()
            assert set(inspect(db.engine).get_table_names()) == tables
            db.engine.dispose()
