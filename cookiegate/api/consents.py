"""POST /api/v1/sites/<key>/consents (record a choice) and .../consents/<id>/withdraw."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from flask import Response, g, request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from ..consents import answer, idempotency_claim, record_consent, validate_consent, withdraw_consent
from ..infra import visitor
from ..infra.ratelimit import limiter
from ..infra.request_checks import MAX_BODY_BYTES, MAX_URL_LENGTH, idempotency_key, parse_json_object, read_body
from ..infra.signing import signer
from ..sites.cache import process_state
from . import bp
from .common import (
    ALLOW_ORIGIN,
    CHOICES_SCHEMA,
    LANGUAGE_TAG,
    NO_STORE,
    POST_REFUSALS,
    CategorySlug,
    IdempotencyHeader,
    IdempotencyKey,
    OriginHeader,
    Token,
    TokenHeader,
    TokenQuery,
    checked,
    error,
    json_answer,
)
from .contract import Answer, Body, Header, operation
from .cors import require_allowed_origin
from .proof import visitor_token

# An http(s) address as the banner sends it (location.href): scheme, host, optional port, then
# anything printable; empty: none. The server keeps it without query string, fragment or credentials.
PAGE_URL = (r"^$|^[Hh][Tt][Tt][Pp][Ss]?://([^\x00-\x20\x7f-\x9f/?#@\[\]:]+(:[^\x00-\x20\x7f-\x9f/?#@\[\]]*)?@)?"
            r"[A-Za-z0-9._~-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
            r"([/?#][^\x00-\x1f\x7f-\x9f]*)?$")
PageUrl = Annotated[str, StringConstraints(max_length=MAX_URL_LENGTH, pattern=PAGE_URL)]
MaybeLanguage = Annotated[str, StringConstraints(max_length=35, pattern=f"^$|^{LANGUAGE_TAG}$")]
Choices = Annotated[dict[CategorySlug, bool], WithJsonSchema(CHOICES_SCHEMA)]


# A field that may be left out but not sent as null: `= Field(None)` on a type without None (pydantic
# does not check a default), which the description shows as an optional field of that type.


def _choices_for(method: str, then: dict) -> dict:
    return {"if": {"required": ["method"], "properties": {"method": {"const": method}}}, "then": then}


class ConsentRequest(Body):
    # How `choices` goes with `method` (consents.py checks the same; `necessary` is recorded as true whatever is sent).
    model_config = ConfigDict(json_schema_extra={"allOf": [
        _choices_for("accept_all", {"properties": {"choices": {"properties": {"necessary": {"type": "boolean"}},
                                                               "additionalProperties": {"const": True}}}}),
        _choices_for("reject_all", {"properties": {"choices": {"properties": {"necessary": {"type": "boolean"}},
                                                               "additionalProperties": {"const": False}}}}),
        _choices_for("custom", {"required": ["choices"], "properties": {"choices": {"minProperties": 1}}}),
    ]})
    choices: Choices = Field(default_factory=dict)
    method: Literal["accept_all", "reject_all", "custom"] = Field(
        description="`custom` needs `choices`; `accept_all` / `reject_all` may omit them and must not contradict them.")
    policy_version: int = Field(ge=0, le=2**31 - 1, description="The version the visitor was shown; another one is `409`.")
    url: PageUrl = Field(None, description="An http(s) URL, kept without query string, fragment or credentials.")
    language: MaybeLanguage = Field(None, description="The language the banner was shown in (empty, or one the site has not: its default).")
    gpc: bool = False
    token: Token = Field(None, description="The visitor's earlier token: the new record keeps the same consent id.")
    idempotency_key: IdempotencyKey = Field(None, description="The same as the `Idempotency-Key` header.")
    MESSAGES = {
        "choices": "'choices' must be an object of category: true/false.",
        "method": "'method' must be one of: accept_all, reject_all, custom.",
        "url": "'url' must be an http(s) URL.",
        "language": "'language' must be a language tag such as 'da' or 'en-GB'.",
        "policy_version": "'policy_version' must be a whole number.",
        "idempotency_key": IdempotencyHeader.MESSAGES["Idempotency-Key"],
    }


class WithdrawRequest(Body):
    # Any string: one that is not a valid token of this consent is 401 invalid_token, as in the header.
    token: str = Field(None, description="The visitor's token (keeps the request simple: no custom header).")
    url: PageUrl = Field(None)
    language: MaybeLanguage = Field(None)
    gpc: bool = False
    idempotency_key: IdempotencyKey = Field(None)
    MESSAGES = ConsentRequest.MESSAGES


class ConsentAnswer(BaseModel):
    consent_id: Annotated[str, StringConstraints(pattern="^[0-9a-f]{32}$")]
    token: Annotated[str, StringConstraints(min_length=1)]
    policy_version: int
    choices: Annotated[dict[str, bool], WithJsonSchema({**CHOICES_SCHEMA, "required": ["necessary"]})]
    method: Literal["accept_all", "reject_all", "custom", "withdraw"]
    recorded_at: dt.datetime
    expires_at: dt.datetime


class ConsentHeaders(OriginHeader, IdempotencyHeader):
    pass


class WithdrawHeaders(TokenHeader, IdempotencyHeader):
    pass


RECORDED = Answer(
    "Recorded and committed (or, with `Idempotent-Replayed: true`, the first answer to this key).",
    ConsentAnswer,
    headers={
        "Idempotent-Replayed": Header("`true` when this is the stored answer to an earlier request with the same key.",
                                      {"type": "string", "const": "true"}, required=False),
        "Cache-Control": NO_STORE,
        "Access-Control-Allow-Origin": ALLOW_ORIGIN,
    },
)
BODY_MEDIA = f"JSON, sent as application/json or text/plain (a simple request needs no preflight). At most {MAX_BODY_BYTES} bytes."


def _recorded(recorded) -> Response:
    response = json_answer(answer(recorded, g.site), 201)
    if not recorded.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/sites/<site_key>/consents")
@limiter.limit()
@operation(
    summary="Record a visitor's choice",
    headers=ConsentHeaders,
    body=ConsentRequest,
    body_description=BODY_MEDIA,
    preflight=True,
    answers={
        **POST_REFUSALS,
        201: RECORDED,
        409: error("`policy_version_changed`: the error carries the current `policy_version`; show the banner again."),
        422: error("`invalid_choices` (an unknown category, or choices that contradict `method`), `invalid_request` "
                   "(a field of the wrong type, null, too long or malformed) or `idempotency_key_reused`."),
    },
)
def post_consent(site_key: str) -> Response:
    require_allowed_origin()
    body = parse_json_object(read_body(request))
    key = idempotency_key(request.headers.get("Idempotency-Key"), body)
    checked(ConsentRequest, body, choices="invalid_choices")
    consent = validate_consent(g.site, body, signer())
    claim = idempotency_claim(key, "consents", body)
    recorded = record_consent(process_state(), g.site, consent, visitor.describe(request), signer(), claim)
    return _recorded(recorded)


@bp.post("/sites/<site_key>/consents/<consent_id:consent_id>/withdraw")
@limiter.limit()
@operation(
    summary="Withdraw consent; earlier tokens stop counting within 60 s everywhere",
    description="A browser's Origin must be one of the site's; a back end holding the token may call without one.",
    query=TokenQuery,
    headers=WithdrawHeaders,
    body=WithdrawRequest,
    body_required=False,
    body_description="The token may be sent here as `token` (keeps the request simple).",
    preflight=True,
    answers={
        **POST_REFUSALS,
        201: RECORDED,
        401: error("`invalid_token`: no valid token of this site."),
        403: error("`origin_not_allowed` or `forbidden` (the token is another consent's)."),
        404: error("`unknown_site`, or `not_found` (the consent id is not 32 hex digits)."),
        422: error("`invalid_request` or `idempotency_key_reused`."),
    },
)
def post_withdraw(site_key: str, consent_id: str) -> Response:
    # A browser says where it is; a site back end holding the token may call without an Origin.
    if request.headers.get("Origin") is not None:
        require_allowed_origin()
    body = parse_json_object(read_body(request), allow_empty=True)
    checked(WithdrawRequest, body)
    # The token may come in the body too, which keeps the request simple (no preflight, no URL).
    token = visitor_token(consent_id, body)
    key = idempotency_key(request.headers.get("Idempotency-Key"), body)
    claim = idempotency_claim(key, "withdraw", body, consent_id)
    recorded = withdraw_consent(process_state(), g.site, token, body, visitor.describe(request), signer(), claim)
    return _recorded(recorded)
