"""Login for the people who use the pages (admins, marketers) and who may see which site.

Sessions: Flask-Login over Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind
https, expiring after COOKIEGATE_SESSION_HOURS). Forms and CSRF: Flask-WTF. API callers
may instead send `Authorization: Bearer <token>` from `create-token` (access.py).
"""
from __future__ import annotations

from flask import Blueprint, Flask
from flask_login import LoginManager

from ..web import html_area

bp = html_area(Blueprint("auth", __name__, template_folder="templates"))
login_manager = LoginManager()
login_manager.login_view = "auth.login"
# Flask-Login's "strong" protection keeps a hash of the address in the session; our sessions
# expire and end at logout or a password change instead.
login_manager.session_protection = None


@login_manager.user_loader
def _load_user(user_id: str):
    from .access import load_session_user

    return load_session_user(user_id)


@login_manager.unauthorized_handler
def _unauthorized():
    from .access import unauthorized

    return unauthorized()


def init_app(app: Flask) -> None:
    # Lifetime and cookie name come from config.py; these hold whatever the environment says.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False  # a session ends a fixed time after login
    login_manager.init_app(app)
    # No "remember me" cookie here (a session ends COOKIEGATE_SESSION_HOURS after login), so
    # Flask-Login's app-wide hook that would refresh one only costs every API request: measured,
    # the app-wide hooks were a quarter of a decision request (benchmarks/api_throughput.py).
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    from ..cli import add_commands
    from . import cli, views  # noqa: F401  (views: the routes)

    app.register_blueprint(bp)
    add_commands(app, *cli.COMMANDS)
