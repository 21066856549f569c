"""Consent statistics: rollups (rollup.py), figures (figures.py) and the API (views.py)."""
from flask import Blueprint

from .. import sitelookup

bp = Blueprint("stats", __name__, url_prefix="/api/v1")
sitelookup.register(bp)

from ..api.openapi import SPEC  # noqa: E402
from . import views  # noqa: E402,F401  (routes register on import)
from .openapi import merge_into  # noqa: E402

merge_into(SPEC)  # the stats endpoints are described beside the rest of the API
