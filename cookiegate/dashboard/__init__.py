"""The marketers' dashboard: /dashboard/ (their sites) and /dashboard/<site_key>/ (one site)."""
from flask import Blueprint, Flask

from ..sites import lookup
from ..web import html_area

bp = html_area(Blueprint("dashboard", __name__, url_prefix="/dashboard", template_folder="templates"))
lookup.register(bp)


def init_app(app: Flask) -> None:
    from . import views  # noqa: F401  (the routes)

    app.register_blueprint(bp)
