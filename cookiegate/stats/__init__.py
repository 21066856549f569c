"""Consent statistics: rollups (rollup.py), figures (figures.py) and the API (views.py)."""
from flask import Blueprint, Flask

from ..api.openapi import SPEC
from ..sites import lookup
from .openapi import merge_into

bp = Blueprint("stats", __name__, url_prefix="/api/v1")
lookup.register(bp)
merge_into(SPEC)  # the stats endpoints are described beside the rest of the API


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (the routes)

    app.register_blueprint(bp)
