"""Errors: one JSON shape everywhere, {"error": {"code": ..., "message": ...}}. A leaf: the
handlers that turn an error into an answer (JSON, or an HTML page for the HTML areas) are
registered by web.register_error_handlers.

Messages are written here or by the code raising ApiError; they never echo
what the client sent, so no address, agent, query string or token can end up
in an answer or a log line through an error.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Response, jsonify

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


class Invalid(ValueError):
    """Input a domain function refuses, per field: {field: message}. The one validation error of
    sites/, auth/users.py and the console's changes; the console shows each message beside its
    field, the command line prints them, and nothing of the change has been applied."""

    def __init__(self, errors: Mapping[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def raise_if(errors: Mapping[str, str]) -> None:
    if errors:
        raise Invalid(errors)


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(extra)
    response = jsonify(error=body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
