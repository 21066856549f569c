"""Consent statistics: rollups (rollup.py), figures (figures.py) and the API (views.py)."""
from flask import Blueprint

from .. import sitelookup

bp = Blueprint("stats", __name__, url_prefix="/api/v1")
sitelookup.register(bp)

from . import views  # noqa: E402,F401  (routes register on import)
