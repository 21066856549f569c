"""GET /api/v1/sites/<key>/consents/<id>: the visitor's own proof of consent (token required)."""
from __future__ import annotations

from typing import Any, Optional

from flask import Response, g, request

from ..errors import ApiError
from ..extensions import db, limiter
from ..models import Site
from ..proof.receipt import RECEIPT_SCHEMA, receipt
from ..sites import CONSENT_COOKIE
from ..tokens import ConsentToken, signer
from . import bp
from .common import (
    NO_STORE,
    RATE_LIMITED,
    UNAVAILABLE,
    TokenHeader,
    TokenQuery,
    error,
    json_answer,
)
from .contract import Answer, Schema, operation


def token_from_request(*, cookie: bool = False, body: Optional[dict[str, Any]] = None) -> Optional[str]:
    """The consent token from X-Cookiegate-Token, ?token=, the body's `token` or (decision) the cookie."""
    raw = request.headers.get("X-Cookiegate-Token") or request.args.get("token")
    if not raw and body is not None and isinstance(body.get("token"), str):
        raw = body["token"]
    if not raw and cookie:
        raw = request.cookies.get(CONSENT_COOKIE)
    return raw or None


def visitor_token(consent_id: str, body: Optional[dict[str, Any]] = None) -> ConsentToken:
    """The caller's own token for this consent; expired or outdated tokens still prove who they are."""
    token = signer().verify(token_from_request(body=body))
    if token is None or token.site_key != g.site.key:
        raise ApiError(401, "invalid_token", "A valid consent token for this site is required.")
    if token.consent_id != consent_id:
        raise ApiError(403, "forbidden", "This token belongs to another consent.")
    return token


@bp.get("/sites/<site_key>/consents/<consent_id:consent_id>")
@limiter.limit()
@operation(
    summary="The visitor's own proof of consent",
    query=TokenQuery,
    headers=TokenHeader,
    preflight=True,
    answers={
        200: Answer(
            "The consent receipt (ISO/IEC TS 27560 style), the same document `cookiegate export` prints: every event of "
            "this consent with the banner texts it was given against and what verifies it. 404 once the consent is erased or purged.",
            Schema("ConsentReceipt", RECEIPT_SCHEMA),
            headers={"Cache-Control": NO_STORE},
        ),
        401: error("`invalid_token`: no valid token of this site (a token too long or malformed is not one)."),
        403: error("`forbidden`: the token is another consent's."),
        404: error("`unknown_site`, `unknown_consent`, or `not_found` (the consent id is not 32 hex digits)."),
        429: RATE_LIMITED,
        503: UNAVAILABLE,
    },
)
def get_proof(site_key: str, consent_id: str) -> Response:
    visitor_token(consent_id)
    # The same consent receipt `export` prints; nothing once erased or purged.
    proof = receipt(db.session.get(Site, g.site.id), consent_id)
    if proof is None:
        raise ApiError(404, "unknown_consent", "No records are kept for this consent.")
    return json_answer(proof)
