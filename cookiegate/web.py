"""What every HTML area (auth/, dashboard/, admin/, ...) shares: security headers, CSRF on
every unsafe request, HTML error pages, the base layout's stylesheet and the UI language.

An area opts in with `html_area(bp)`; the API blueprints stay JSON-only and pay for none of it.
"""
from __future__ import annotations

from flask import Blueprint, Flask, Response, g, request
from flask_wtf.csrf import CSRFProtect

from . import i18n

csrf = CSRFProtect()

# Blueprints whose errors are HTML pages; paths below these prefixes too (a 404 has no blueprint).
HTML_BLUEPRINTS: set[str] = set()
HTML_PREFIXES: tuple[str, ...] = ("/login", "/logout", "/dashboard", "/admin", "/static/ui")

# Same policy as the banner: nothing inline, nothing from elsewhere, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

# The stylesheet of the base layout (templates/base.html) lives in cookiegate/static/.
bp = Blueprint("ui", __name__, static_folder="static", static_url_path="/static/ui")


def apply_security_headers(response: Response) -> Response:
    headers = response.headers
    # Console pages that show the banner preview frame it from this service (and nothing else).
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY + ("; frame-src 'self'" if g.get("frames_preview") else "")
    headers["X-Frame-Options"] = "DENY"
    # Dashboard URLs carry date ranges; nothing about them leaves for another origin.
    headers["Referrer-Policy"] = "same-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    if not (request.endpoint or "").endswith(".static"):
        # Pages and downloads (the audit trail's CSV, a consent export) show data for whoever is
        # logged in: never from a cache. The areas' stylesheets and scripts may be cached.
        headers["Cache-Control"] = "no-store"
        headers.add("Vary", "Cookie")
    return response


def fresh_request_state() -> None:
    """Flask-WTF (CSRF token) and Flask-Login (user) cache in `g`, which lives as long as the
    app context: make both this request's (a test client shares one app context between requests)."""
    g.pop("csrf_token", None)
    g.pop("_login_user", None)


def _protect() -> None:
    fresh_request_state()
    # Every unsafe method of an HTML area needs the session's CSRF token (forms carry it).
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def _remember_language() -> None:
    # A language picked with ?lang= becomes the logged-in user's setting.
    requested = i18n.requested_language()
    if requested is None:
        return
    from flask_login import current_user

    from .extensions import db

    if current_user.is_authenticated and current_user.language != requested:
        current_user.language = requested
        db.session.commit()


def html_area(area: Blueprint) -> Blueprint:
    """Make `area` an HTML area: CSRF on unsafe methods, security headers, HTML errors."""
    HTML_BLUEPRINTS.add(area.name)
    area.before_request(_protect)
    area.before_request(_remember_language)
    area.after_request(apply_security_headers)
    return area


def wants_html() -> bool:
    if not request:
        return False
    if request.blueprint in HTML_BLUEPRINTS:
        return True
    return request.blueprint is None and request.path.startswith(HTML_PREFIXES)


html_area(bp)


def init_app(app: Flask) -> None:
    # CSRF is checked by html_area() only, so the public API's POSTs never pay for it.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    app.config.setdefault("WTF_CSRF_SSL_STRICT", True)
    csrf.init_app(app)
    # With WTF_CSRF_CHECK_DEFAULT off, CSRFProtect's app-wide before_request does nothing but cost
    # every API request about 10 µs (the decision endpoint's budget); html_area() checks instead.
    app.before_request_funcs[None] = [f for f in app.before_request_funcs[None] if f.__name__ != "csrf_protect"]
    app.register_blueprint(bp)
    app.jinja_env.globals.update(t=i18n.translate, ui_language=i18n.ui_language, fmt_number=i18n.format_number,
                                 fmt_percent=i18n.format_percent, LANGUAGES=i18n.LANGUAGES,
                                 lang_query=i18n.lang_query)
