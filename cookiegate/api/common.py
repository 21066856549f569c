"""What the API's resources share: the error shape, the answers most operations can give, the
headers and path parameters, and the CORS preflight."""
from __future__ import annotations

from typing import Annotated, Any

from flask import Response, jsonify
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter
from werkzeug.routing import BaseConverter

from ..infra.db_errors import RETRY_AFTER_SECONDS
from ..infra.request_checks import MAX_BODY_BYTES, MAX_IDEMPOTENCY_KEY, invalid
from .contract import Answer, Header, Operation, Parameters, Refused, check

# --- shapes ------------------------------------------------------------------------------------

LANGUAGE_TAG = r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*"
CategorySlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,40}$")]
SiteKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
CONSENT_ID = "[0-9a-f]{32}"
ConsentId = Annotated[str, StringConstraints(pattern=f"^{CONSENT_ID}$")]
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[!-~]{1,%d}$" % MAX_IDEMPOTENCY_KEY)]
# Text we store has no control characters (C0, DEL, C1); infra/request_checks.py also refuses lone surrogates.
PLAIN_TEXT = r"^[^\x00-\x1f\x7f-\x9f]*$"
Token = Annotated[str, StringConstraints(max_length=1024, pattern=PLAIN_TEXT)]
CHOICES_SCHEMA = {
    "type": "object",
    "propertyNames": {"pattern": r"^[a-z0-9_-]{1,40}$"},
    "additionalProperties": {"type": "boolean"},
    "description": "Category slug: granted. Unknown categories are `422 invalid_choices`; `necessary` is always recorded as true.",
    "example": {"statistics": True, "marketing": False},
}


class ConsentIdConverter(BaseConverter):
    """`<consent_id:...>` in a route: any other id is 404 `not_found` before a view (or a preflight) runs."""

    regex = CONSENT_ID


PATH_PARAMETERS = {"site_key": TypeAdapter(SiteKey).json_schema(), "consent_id": TypeAdapter(ConsentId).json_schema()}


class Error(BaseModel):
    class ErrorDetail(BaseModel):
        model_config = ConfigDict(extra="allow")
        code: Annotated[str, StringConstraints(pattern="^[a-z_]+$")]
        message: Annotated[str, StringConstraints(min_length=1)]
        policy_version: int = Field(None, description="With `policy_version_changed`: the current version.")
        parameter: str = Field(None, description="With `invalid_parameter`: the parameter at fault.")

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


# --- headers and answers -----------------------------------------------------------------------

RETRY_AFTER = Header("Seconds to wait before trying again.", {"type": "string", "pattern": "^[0-9]+$"})
NO_STORE = Header("Never cached: `no-store`.", {"type": "string", "const": "no-store"})
ALLOW_ORIGIN = Header("The request's Origin, when it is one of the site's origins (CORS).", {"type": "string"}, required=False)


def error(description: str, **headers: Header) -> Answer:
    return Answer(description, Error, headers=headers)


UNKNOWN_SITE = error("`unknown_site`: no site has this key.")
UNAVAILABLE = error(
    "`service_unavailable`: the database cannot serve this now (down, frozen, full, read-only). "
    "Retry after `Retry-After` seconds with the same idempotency key. The decision and config "
    "endpoints answer from the last state read, so they only give this for a site the process never loaded.",
    **{"Retry-After": RETRY_AFTER},
)
RATE_LIMITED = error("`rate_limited`: too many requests from this client.", **{"Retry-After": RETRY_AFTER})
TOO_LARGE = error(f"`payload_too_large`: the body is over {MAX_BODY_BYTES} bytes.")
BAD_BODY = error("`invalid_json`: the body is not a UTF-8 JSON object; `invalid_body`: it could not be read (malformed chunked encoding).")
ORIGIN_REFUSED = error("`origin_not_allowed`: the Origin header is missing or not one of the site's origins.")
# gunicorn reads the request line before the app does and refuses one over its limit (4094 bytes) itself.
# What a POST from a site's pages can be refused with, whatever it posts.
POST_REFUSALS = {400: BAD_BODY, 403: ORIGIN_REFUSED, 404: UNKNOWN_SITE, 413: TOO_LARGE, 429: RATE_LIMITED, 503: UNAVAILABLE}
URI_TOO_LONG = Answer("The URL is longer than the server reads (4094 bytes for the request line); "
                      "answered by the HTTP server before the app, as a short HTML page.", {"type": "string"}, media="text/html")
ALWAYS = {414: URI_TOO_LONG}


class OriginHeader(Parameters):
    origin: str = Field(alias="Origin", description="One of the site's origins.")


class IdempotencyHeader(Parameters):
    idempotency_key: IdempotencyKey = Field(None, alias="Idempotency-Key",
        description="A retry with the same key and the same body returns the first answer (`Idempotent-Replayed: true`) "
        "and stores nothing twice; the same key with another body is `422 idempotency_key_reused`. Keys are scoped to "
        "the site, the endpoint and (withdrawals) the consent, and kept 24 hours. May also be sent as the body field "
        "`idempotency_key`, which keeps the request simple (no CORS preflight).",
    )
    MESSAGES = {"Idempotency-Key": f"An idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters."}


class TokenQuery(Parameters):
    token: Token = Field(None, description="The visitor's consent token (or send it as `X-Cookiegate-Token`).")


class TokenHeader(Parameters):
    token: Token = Field(None, alias="X-Cookiegate-Token", description="The visitor's consent token.")


class PreflightHeaders(Parameters):
    origin: str = Field(alias="Origin")
    method: str = Field(None, alias="Access-Control-Request-Method")
    headers: str = Field(None, alias="Access-Control-Request-Headers")


ALLOWED_HEADERS = "Content-Type, Idempotency-Key, X-Cookiegate-Token"


def preflight(methods: str) -> Operation:
    return Operation(
        summary="CORS preflight",
        description=f"Answered for the site's own origins only. Allowed methods: {methods}.",
        headers=PreflightHeaders,
        answers={
            204: Answer("Allowed.", headers={
                "Access-Control-Allow-Origin": Header("The request's Origin.", {"type": "string"}),
                "Access-Control-Allow-Methods": Header("Allowed methods.", {"type": "string", "const": "GET, POST, OPTIONS"}),
                "Access-Control-Allow-Headers": Header("Allowed request headers.", {"type": "string", "const": ALLOWED_HEADERS}),
                "Access-Control-Max-Age": Header("Seconds a browser may cache this answer.", {"type": "string", "pattern": "^[0-9]+$"}),
            }),
            403: ORIGIN_REFUSED,
            404: UNKNOWN_SITE,
            503: UNAVAILABLE,
        },
    )


INFO = {
    "title": "cookiegate public API",
    "version": "1",
    "description": "Consent banner config, proof of consent, server-side consent decisions and statistics. "
    "Errors always have the shape {\"error\": {\"code\", \"message\"}}. Every per-site path of the browser API answers a CORS "
    "preflight (OPTIONS) for the site's own origins. A database outage is `503 service_unavailable` with "
    f"`Retry-After: {RETRY_AFTER_SECONDS}`.",
}


# --- answering ---------------------------------------------------------------------------------

def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def json_answer(payload: dict[str, Any], status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return no_store(response)


def checked(model: type[BaseModel], data: Any, code: str = "invalid_request", **codes: str) -> Any:
    """`data` through `model`; a refused field is 422 `code` (or `codes[field]`) naming it in our words."""
    try:
        return check(model, data)
    except Refused as refused:
        raise invalid(refused.message, codes.get(refused.name, code)) from None

