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
            assert {"sites", "consent_records", "stats_impressions", "users", "api_tokens", "audit_events"} <= tables
            downgrade(revision="base")
            assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
            upgrade()
            assert set(inspect(db.engine).get_table_names()) == tables
            db.engine.dispose()


def test_a_format_1_log_still_verifies_after_the_format_2_migration_and_goes_on_in_format_2(tmp_path, instance_dir):
    """Upgrade from the previous head (0005_proof_log) with a signed format-1 log in it: the old
    records and their checkpoint verify, and new records, an erasure and a checkpoint follow in format 2."""
    import datetime as dt

    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from cookiegate.models import ConsentRecord, Site
    from cookiegate.proof.ledger import PAYLOAD_FIELDS, seal_many

    from .conftest import SHOP_ORIGIN, TEST_KEYS
    from .support import consent_body, make_site, post_consent

    with fresh_database(tmp_path) as url:
        app = create_app({"INSTANCE_PATH": str(instance_dir), "SQLALCHEMY_DATABASE_URI": url, "COOKIEGATE_ENV": "testing",
                          "COOKIEGATE_SECRET_KEYS": list(TEST_KEYS), "COOKIEGATE_RATELIMIT": "10000 per minute"})
        runner = app.test_cli_runner()
        with app.app_context():
            upgrade(revision="0005_proof_log")
            upgrade()  # a database at the previous head, then this one's revisions
            site = make_site(origins=[SHOP_ORIGIN])
            site_id, site_key = site.id, site.key
            # Format-1 records as 0005 wrote them (kind and day NULL), and a checkpoint over them.
            created = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)
            payloads = [{"consent_id": f"{n:032x}", "created_at": created, "policy_version": 1, "choices": {"necessary": True},
                         "method": "reject_all", "language": "da", "page_url": "", "gpc": False, "country": "", "region": "",
                         "city": "", "device_type": "", "browser_family": "", "os_family": "", "is_bot": False, "banner_hash": ""}
                        for n in range(1, 4)]
            head = ""
            for payload, (seq, digest, head) in zip(payloads, seal_many(site_key, "", 1, [[p[f] for f in PAYLOAD_FIELDS] for p in payloads], format=1)):
                db.session.execute(ConsentRecord.__table__.insert().values(site_id=site_id, seq=seq, payload_hash=digest, chain_hash=head, **payload))
            db.session.execute(Site.__table__.update().where(Site.__table__.c.id == site_id).values(log_seq=3, log_head=head))
            db.session.commit()
            downgrade(revision="0005_proof_log")
            assert "checkpoint_schedule" not in inspect(db.engine).get_table_names()
            upgrade()
            db.session.remove()
            assert runner.invoke(args=["cookiegate", "checkpoint"]).exit_code == 0
            verified = runner.invoke(args=["cookiegate", "verify-log"])
            assert verified.exit_code == 0 and f"{site_key}: green, 3 records verified" in verified.output
            client = app.test_client()
            assert post_consent(client, site_key, consent_body()).status_code == 201
            assert runner.invoke(args=["cookiegate", "erase", site_key, f"{2:032x}"]).exit_code == 0
            kinds = db.session.execute(text("SELECT kind FROM consent_records ORDER BY seq")).scalars().all()
            assert kinds == [None, None, None, "consent", "removal"]
            assert runner.invoke(args=["cookiegate", "checkpoint"]).exit_code == 0
            verified = runner.invoke(args=["cookiegate", "verify-log"])
            assert verified.exit_code == 0 and f"{site_key}: green, 5 records (1 tombstones) verified" in verified.output
            # A format-1 record written after format-2 ones is not cookiegate's.
            db.session.execute(text("UPDATE consent_records SET kind = NULL, day = NULL WHERE seq = 5"))
            db.session.commit()
            assert "a format-1 record after format-2 ones" in runner.invoke(args=["cookiegate", "verify-log"]).output
            db.session.remove()
            db.engine.dispose()


def test_migration_files_are_numbered_in_the_order_the_chain_runs():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    chain = list(reversed(list(ScriptDirectory.from_config(config).walk_revisions())))
    assert chain[0].down_revision is None and len(chain) >= 10
    numbers = [int(os.path.basename(script.path)[:4]) for script in chain]
    assert numbers == list(range(1, len(chain) + 1)), [os.path.basename(s.path) for s in chain]
