"""What every HTML area (auth/, dashboard/, admin/, ...) shares: security headers, CSRF on
every unsafe request, HTML error pages, the base layout's stylesheet and the UI language;
and the app's error handlers: JSON in the shape of errors.py for the API, a readable page
(same status and headers) for the HTML areas.

An area opts in with `html_area(bp)`; the API blueprints stay JSON-only and pay for none of it.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from . import i18n
from .errors import HTTP_CODES, ApiError, error_response
from .extensions import db
from .infra import db_errors

log = logging.getLogger(__name__)

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
    """Maintenance write (commits before the view runs): a language picked with ?lang= becomes
    the logged-in user's setting, so the next page, on any device, is in it."""
    requested = i18n.requested_language()
    if requested is None:
        return
    from flask_login import current_user

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
    register_error_handlers(app)
    app.jinja_env.globals.update(t=i18n.translate, ui_language=i18n.ui_language, fmt_number=i18n.format_number,
                                 fmt_percent=i18n.format_percent, LANGUAGES=i18n.LANGUAGES,
                                 lang_query=i18n.lang_query)


# Error handlers: every error answers in the shape of errors.py, as a page where a person reads it.


def _html_error_response(status: int, message: str) -> Response:
    """An error page in the base layout; falls back to plain text if even rendering fails."""
    fresh_request_state()
    try:
        body = render_template("error.html", status=status, message=message)
    except Exception:  # never an error inside the error page
        log.exception("error page could not be rendered")
        body = f"<!doctype html><title>{status}</title><h1>{status}</h1>"
    response = Response(body, status=status, mimetype="text/html")
    return apply_security_headers(response)


def _respond(status: int, code: str, message: str, **extra: Any) -> Response:
    if wants_html():
        return _html_error_response(status, message)
    return error_response(status, code, message, **extra)


def _api_error(error: ApiError) -> Response:
    response = _respond(error.status, error.code, error.message, **error.extra)
    response.headers.update(error.headers)
    return response


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code, message = HTTP_CODES.get(status, ("error", error.name))
    if status == 400 and isinstance(error, CSRFError):
        code, message = "csrf_failed", "The form has expired or did not come from this site; reload the page and try again."
    response = _respond(status, code, message)
    if status == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _unexpected(error: Exception) -> Response:
    # The traceback goes to the log; it names code, not request data.
    log.exception("unhandled %s", type(error).__name__)
    return _respond(500, *HTTP_CODES[500])


def _service_unavailable() -> Response:
    # JSON for the API, the HTML error page for the HTML areas (dashboard, login).
    response = _respond(503, *HTTP_CODES[503])
    response.headers["Retry-After"] = str(db_errors.RETRY_AFTER_SECONDS)
    return response


def _database_error(error: SQLAlchemyError) -> Response:
    reason = db_errors.unavailable_reason(error)
    if reason is None:
        return _unexpected(error)
    # No traceback: the outage is logged once when it starts and once when it ends.
    db_errors.current().failed_request(reason)
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass
    return _service_unavailable()


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(Exception, _unexpected)
