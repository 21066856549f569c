"""GET /api/v1/openapi.json: the description built from the routes when the app is created, and
the one route outside the API it also describes (/healthz, for load balancers)."""
from __future__ import annotations

from typing import Literal

from flask import Flask, Response, current_app, jsonify
from pydantic import BaseModel

from .. import health
from . import bp
from .common import ALWAYS, INFO, NO_STORE, PATH_PARAMETERS, RETRY_AFTER, preflight
from .contract import Answer, describe, operation
from .stats import SECURITY_SCHEMES

KEY = "cookiegate.openapi"


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable", "read_only", "full"]
    geoip: Literal["ok", "missing"]


operation(
    summary="Liveness and readiness: is the database reachable and does it take writes",
    answers={
        200: Answer("Up.", Health, headers={"Cache-Control": NO_STORE}),
        503: Answer("The database is unreachable, read-only or full.", Health,
                    headers={"Retry-After": RETRY_AFTER, "Cache-Control": NO_STORE}),
    },
)(health.healthz)


@bp.get("/openapi.json")
@operation(summary="This document", answers={200: Answer("OpenAPI 3.1", {"type": "object"})})
def openapi() -> Response:
    return jsonify(current_app.extensions[KEY])


def init_app(app: Flask) -> None:
    """Build the description once every blueprint is registered (create_app calls this last)."""
    app.extensions[KEY] = describe(app, INFO, PATH_PARAMETERS, preflight, ALWAYS, {"securitySchemes": SECURITY_SCHEMES})
