"""The marketers' dashboard: /dashboard/ (their sites) and /dashboard/<site_key>/ (one site)."""
from flask import Blueprint

from .. import sitelookup
from ..web import html_area

bp = html_area(Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates"))
sitelookup.register(bp)

from . import views  # noqa: E402,F401  (routes register on import)
