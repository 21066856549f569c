"""Errors: JSON for the API, one shape everywhere: {"error": {"code": ..., "message": ...}};
a readable HTML page (same status and headers) for the HTML areas (web.html_area).

Messages are written here or by the code raising ApiError; they never echo
what the client sent, so no address, agent, query string or token can end up
in an answer or a log line through an error.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: ("bad_request", "The request could not be understood."),
    401: ("unauthorized", "Authentication is required."),
    403: ("forbidden", "You do not have access to this resource."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed here."),
    409: ("conflict", "The request conflicts with the current state."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Unsupported media type."),
    422: ("invalid_request", "The request is not valid."),
    429: ("rate_limited", "Too many requests; try again later."),
    500: ("internal_error", "Something went wrong on our side."),
    503: ("service_unavailable", "The service is temporarily unavailable; try again shortly."),
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    response = jsonify(error=body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def html_error_response(status: int, message: str) -> Response:
    """An error page in the base layout; falls back to plain text if even rendering fails."""
    from .web import apply_security_headers, fresh_request_state

    fresh_request_state()
    try:
        body = render_template("error.html", status=status, message=message)
    except Exception:  # never an error inside the error page
        log.exception("error page could not be rendered")
        body = f"<!doctype html><title>{status}</title><h1>{status}</h1>"
    response = Response(body, status=status, mimetype="text/html")
    return apply_security_headers(response)


def _respond(status: int, code: str, message: str, **extra: Any) -> Response:
    from .web import wants_html

    if wants_html():
        return html_error_response(status, message)
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


def service_unavailable() -> Response:
    from .outage import RETRY_AFTER_SECONDS

    # JSON for the API, the HTML error page for the HTML areas (dashboard, login).
    response = _respond(503, *HTTP_CODES[503])
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _database_error(error: SQLAlchemyError) -> Response:
    from . import outage
    from .extensions import db

    reason = outage.unavailable_reason(error)
    if reason is None:
        return _unexpected(error)
    # No traceback: the outage is logged once when it starts and once when it ends.
    outage.current().failed_request(reason)
    try:
        db.session.rollback()
    except SQLAlchemyError:
        pass
    return service_unavailable()


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(SQLAlchemyError, _database_error)
    app.register_error_handler(Exception, _unexpected)
