"""The public API, /api/v1: one module per resource (config, consents, decision, proof,
impressions, stats), each declaring its operations; description.py serves the OpenAPI
description built from them (contract.py)."""
from flask import Blueprint

from .. import sitelookup

bp = Blueprint("api", __name__, url_prefix="/api/v1")
sitelookup.register(bp)

# Routes register on import; cors first, so its before_request answers preflights.
from . import config, consents, cors, decision, description, impressions, proof, stats  # noqa: E402,F401
from .description import init_app  # noqa: E402,F401
