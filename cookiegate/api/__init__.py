"""The public API, /api/v1: one module per resource (config, consents, decision, proof
(receipts and checkpoints), impressions, stats), each declaring its operations; description.py serves the OpenAPI
description built from them (contract.py)."""
from flask import Blueprint, Flask

from ..sites import lookup as sitelookup
from .common import ConsentIdConverter

bp = Blueprint("api", __name__, url_prefix="/api/v1")
sitelookup.register(bp)
# Recorded before any route, so the converter is there when the routes are added to the app.
bp.record_once(lambda state: state.app.url_map.converters.setdefault("consent_id", ConsentIdConverter))

# Routes register on import.
from . import config, consents, cors, decision, description, impressions, proof, stats  # noqa: E402,F401


def init_app(app: Flask) -> None:
    """The routes, then the description built from every route of the app (so: called last)."""
    app.register_blueprint(bp)
    description.init_app(app)
