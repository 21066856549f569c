"""cookiegate: a self-hosted cookie-consent service."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import banner, cli, web
from .auth.sessions import SessionOnDemand
from .config import check as check_config, from_environment
from .extensions import db, migrate
from .infra import db_errors, geo, signing
from .infra.ratelimit import limiter
from .sites import cache

HERE = Path(__file__).resolve().parent
# Inside an installed package (pyproject.toml maps migrations/ there), else beside it in a checkout.
MIGRATIONS_DIR = next((p for p in (HERE / "migrations", HERE.parent / "migrations") if p.is_dir()), HERE.parent / "migrations")


def create_app(config: Optional[dict[str, Any]] = None) -> Flask:
    """The app, configured from the environment; `config` overrides single keys (tests do)."""
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("COOKIEGATE_INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True, static_folder=None)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    settings = from_environment(app.instance_path)
    settings.update(config or {})
    check_config(settings, app.instance_path)
    app.config.update(settings)
    app.config.setdefault(
        "SQLALCHEMY_ENGINE_OPTIONS",
        _engine_options(app.config["SQLALCHEMY_DATABASE_URI"], app.config["COOKIEGATE_DB_TIMEOUT"], app.config["COOKIEGATE_DB_STATEMENT_TIMEOUT"]),
    )
    app.session_interface = SessionOnDemand()
    app.json.sort_keys = False
    app.json.ensure_ascii = False

    proxies = app.config["COOKIEGATE_TRUSTED_PROXIES"]
    if proxies:
        # The N-th address from the right of X-Forwarded-For; anything further left is client-forged.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    _configure_logging(app)
    db.init_app(app)
    statement_timeout = app.config["COOKIEGATE_DB_STATEMENT_TIMEOUT"]
    if statement_timeout and app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        from .infra import database

        # A frozen server never answers, so the server-side timeout needs a client-side deadline too.
        database.install_client_deadline(app, statement_timeout + 1)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    limiter.init_app(app)
    db_errors.init_app(app)
    cache.init_app(app)
    geo.init_app(app)
    signing.init_app(app)
    cli.init_app(app)
    web.init_app(app)
    app.after_request(_no_sniffing)

    # Each area registers its routes and its commands in its own init_app.
    from . import admin, api, auth, dashboard, demo, health, proof, siteaudit, sites

    sites.init_app(app)
    auth.init_app(app)
    admin.init_app(app)
    dashboard.init_app(app)
    banner.init_app(app)
    health.init_app(app)
    demo.init_app(app)
    siteaudit.init_app(app)
    proof.init_app(app)
    api.init_app(app)  # last: the API's description is built from every route registered
    return app


def _no_sniffing(response):
    """No answer (API JSON, CSV, the banner script, a page) may be read by a browser as another
    type. The one place that sets this header: add() appends without the search a set() makes
    (0.3 against 1.9 µs, timed), which counts on the decision endpoint."""
    response.headers.add("X-Content-Type-Options", "nosniff")
    return response


def _engine_options(url: str, timeout: float, statement_timeout: float) -> dict[str, Any]:
    """Fail fast when the database is down, frozen or locked: a request answers 503 within
    about `timeout` seconds instead of holding a worker until gunicorn kills it."""
    # Parameters stay out of exception texts, so a database error cannot echo what a client sent.
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # sqlite3's own busy timeout: how long a writer waits for the lock before SQLITE_BUSY.
        options["connect_args"] = {"timeout": timeout}
    else:
        options["pool_pre_ping"] = True
        options["pool_timeout"] = timeout
        connect_args: dict[str, Any] = {"connect_timeout": max(2, int(round(timeout)))}
        if statement_timeout:
            ms = int(statement_timeout * 1000)
            connect_args["options"] = f"-c statement_timeout={ms} -c lock_timeout={ms}"
        options["connect_args"] = connect_args
    return options


def _configure_logging(app: Flask) -> None:
    # Application log lines carry what happened, never request data (addresses, agents, URLs, tokens).
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cookiegate").setLevel(logging.INFO)
