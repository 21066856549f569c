"""Proof of consent: GET /api/v1/sites/<key>/consents/<id>, the visitor's own receipt (token
required), and GET /api/v1/sites/<key>/checkpoints, the site's signed checkpoints, public and
cacheable, so site owners, auditors and visitors can keep copies that someone with write access
to the database cannot reach (`verify-log --checkpoint-url` checks the log against such a copy)."""
from __future__ import annotations

from typing import Any, Optional

from flask import Response, current_app, g, jsonify, request
from pydantic import BaseModel, Field

from ..errors import ApiError
from ..extensions import db
from ..infra.ratelimit import limiter
from ..infra.signing import ConsentToken, signer
from ..models import Site
from ..proof.checkpoints import published
from ..proof.keys import published_keys
from ..proof.receipt import RECEIPT_SCHEMA, receipt
from ..proof.schedule import interval
from ..sites.banner_config import CONSENT_COOKIE
from . import bp
from .common import NO_STORE, RATE_LIMITED, UNAVAILABLE, UNKNOWN_SITE, TokenHeader, TokenQuery, error, json_answer
from .contract import Answer, Header, Schema, operation


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


CHECKPOINTS_MAX_AGE = 60  # seconds: a copy is at most a minute behind, and the database is not read per visitor
CHECKPOINT_LINE = "^cookiegate-checkpoint/1 "


class CheckpointArchive(BaseModel):
    site: str
    checkpoints: list[str] = Field(description="Every checkpoint line (the newest 1000, oldest first).",
                                   json_schema_extra={"items": {"type": "string", "pattern": CHECKPOINT_LINE}})
    latest: Optional[str]
    interval_seconds: Optional[int] = Field(None, description="How often the service signs by itself (null: not).")
    public_keys: list[str]
    format: str


@bp.get("/sites/<site_key>/checkpoints")
@operation(
    summary="The site's signed log checkpoints: public, cacheable, for anyone to keep a copy",
    description="Each checkpoint is an Ed25519 signature over the site's log head; a copy kept elsewhere lets "
    "`cookiegate verify-log --checkpoint-url` catch a log rewritten, truncated or wiped together with its "
    "checkpoints (docs/proof.md).",
    preflight=True,
    answers={
        200: Answer(
            "The archive.",
            CheckpointArchive,
            headers={
                "Cache-Control": Header("Public, for 60 seconds.", {"type": "string"}),
                "ETag": Header("Names this exact content.", {"type": "string"}),
                "Access-Control-Allow-Origin": Header("`*`: public.", {"type": "string"}),
            },
        ),
        304: Answer("Not modified (If-None-Match matched the ETag)."),
        404: UNKNOWN_SITE,
        503: UNAVAILABLE,
    },
)
def site_checkpoints(site_key: str) -> Response:
    lines = [checkpoint.line() for checkpoint in published(g.site.id, g.site.key)]
    every = interval(current_app._get_current_object())  # type: ignore[attr-defined]
    response = jsonify({
        "site": g.site.key,
        "checkpoints": lines,
        "latest": lines[-1] if lines else None,
        "interval_seconds": every or None,
        "public_keys": published_keys(),
        "format": "cookiegate-checkpoint/1 site=KEY seq=N head=HEX at=TIME key=KEYID sig=BASE64URL; "
                  "Ed25519 over the line before ' sig=' (docs/proof.md)",
    })
    response.cache_control.public = True
    response.cache_control.max_age = CHECKPOINTS_MAX_AGE
    response.headers["Access-Control-Allow-Origin"] = "*"  # public: anyone may keep a copy
    response.add_etag()
    return response.make_conditional(request)
