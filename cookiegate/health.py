"""GET /healthz: is the service up, can it reach its database, has it a location database."""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def geoip_status() -> str:
    reader = current_app.extensions.get("cookiegate.geoip")
    return "ok" if reader is not None and reader.available() else "missing"


@bp.get("/healthz")
def healthz() -> Response:
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError as error:
        log.warning("health check: database unreachable (%s)", type(error).__name__)
        db.session.rollback()
        database = "unreachable"
    body = {"status": "ok" if database == "ok" else "degraded", "database": database, "geoip": geoip_status()}
    response = jsonify(body)
    response.status_code = 200 if database == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response
