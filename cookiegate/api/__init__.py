"""The public API: what websites, their visitors' browsers and their back ends call."""
from flask import Blueprint

from ..sites import lookup as sitelookup

bp = Blueprint("api", __name__, url_prefix="/api/v1")
sitelookup.register(bp)

from . import checkpoints, cors, views  # noqa: E402,F401  (routes register on import)
