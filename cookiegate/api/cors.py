"""CORS for the site's own origins only, preflight included."""
from __future__ import annotations

from typing import Optional

from flask import Response, g, request

from ..errors import ApiError
from ..infra.request_checks import MAX_BODY_BYTES
from . import bp

ALLOWED_HEADERS = "Content-Type, Idempotency-Key, X-Cookiegate-Token"
PREFLIGHT_MAX_AGE = "86400"


@bp.before_request
def preflight() -> Optional[Response]:
    """A preflight for a per-site route (the site is known: sites/lookup ran first) is answered here."""
    # One byte over the limit, so a chunked body (no Content-Length) that is too big shows as such.
    request.max_content_length = MAX_BODY_BYTES + 1
    state = g.get("site")
    if state is None:
        return None
    if request.method == "OPTIONS":
        if not state.allows_origin(request.headers.get("Origin")):
            raise ApiError(403, "origin_not_allowed", "This origin is not allowed for the site.")
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response
    return None


def require_allowed_origin() -> None:
    if not g.site.allows_origin(request.headers.get("Origin")):
        raise ApiError(403, "origin_not_allowed", "This origin is not allowed for the site.")


@bp.after_request
def add_cors_headers(response: Response) -> Response:
    state = g.get("site")
    origin = request.headers.get("Origin")
    if state is not None:
        response.headers["Vary"] = "Origin" if "Vary" not in response.headers else response.headers["Vary"] + ", Origin"
        if state.allows_origin(origin):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = "Retry-After, ETag, Idempotent-Replayed"
    return response

