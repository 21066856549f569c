"""Public API views: parse, call the plain functions, answer."""
from __future__ import annotations

from typing import Optional

from flask import Response, current_app, g, jsonify, request

from ..infra import visitor
from ..infra.compression import respond
from ..consents import answer, idempotency_claim, record_consent, validate_consent, withdraw_consent
from ..decision import decision_json
from ..errors import ApiError
from ..extensions import db
from ..models import Site
from ..proof.receipt import receipt
from ..infra.ratelimit import limiter
from ..sites.banner_config import CONSENT_COOKIE
from ..sites.site import LANGUAGE_PATTERN
from ..sites.cache import process_state
from ..stats.rollup import count_impression
from ..infra.signing import ConsentToken, signer
from ..infra.request_checks import idempotency_key, invalid, parse_json_object, read_body
from . import bp
from .cors import require_allowed_origin
from .openapi import SPEC


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _json(payload: dict, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return _no_store(response)


@bp.get("/sites/<site_key>/config")
def site_config(site_key: str) -> Response:
    requested = request.args.get("lang") or None  # empty: the site's default
    # One tag, or a list in order of preference ("da-DK,en"): the first the site has is chosen.
    tags = (requested or "").split(",")
    if requested is not None and (len(tags) > 10 or not all(LANGUAGE_PATTERN.match(tag) for tag in tags)):
        raise invalid("'lang' must be a language tag such as 'da' or 'en-GB', or up to 10 of them separated by commas.")
    layer = request.args.get("layer")
    if layer not in (None, "first"):
        raise invalid("'layer' must be 'first' (or left out for the whole config).")
    language = g.site.language_for(requested)
    if layer:
        bodies, tag = g.site.first_layer_bodies[language], "f" + g.site.first_layer_hashes[language][:31]
    else:
        bodies, tag = g.site.config_bodies[language], g.site.config_hashes[language][:32]
    response = respond(request, bodies, "application/json", tag)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["COOKIEGATE_CONFIG_MAX_AGE"]
    return response.make_conditional(request)


@bp.post("/sites/<site_key>/consents")
@limiter.limit()
def post_consent(site_key: str) -> Response:
    require_allowed_origin()
    body = parse_json_object(read_body(request))
    key = idempotency_key(request.headers.get("Idempotency-Key"), body)
    consent = validate_consent(g.site, body, signer())
    claim = idempotency_claim(key, "consents", body)
    recorded = record_consent(process_state(), g.site, consent, visitor.describe(request), signer(), claim)
    return _recorded(recorded)


def _recorded(recorded) -> Response:
    response = _json(answer(recorded, g.site), 201)
    if not recorded.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _token_from_request(*, cookie: bool = False, body: Optional[dict] = None) -> Optional[str]:
    raw = request.headers.get("X-Cookiegate-Token") or request.args.get("token")
    if not raw and body is not None and isinstance(body.get("token"), str):
        raw = body["token"]
    if not raw and cookie:
        raw = request.cookies.get(CONSENT_COOKIE)
    return raw or None


@bp.get("/sites/<site_key>/decision")
def decision(site_key: str) -> Response:
    body = decision_json(g.site, _token_from_request(cookie=True), signer(), process_state().revocations)
    return _no_store(Response(body, mimetype="application/json"))


def _visitor_token(consent_id: str, body: Optional[dict] = None) -> ConsentToken:
    """The caller's own token for this consent; expired or outdated tokens still prove who they are."""
    token = signer().verify(_token_from_request(body=body))
    if token is None or token.site_key != g.site.key:
        raise ApiError(401, "invalid_token", "A valid consent token for this site is required.")
    if token.consent_id != consent_id:
        raise ApiError(403, "forbidden", "This token belongs to another consent.")
    return token


@bp.get("/sites/<site_key>/consents/<consent_id>")
@limiter.limit()
def get_proof(site_key: str, consent_id: str) -> Response:
    _visitor_token(consent_id)
    # The same consent receipt `export` prints; nothing once erased or purged.
    proof = receipt(db.session.get(Site, g.site.id), consent_id)
    if proof is None:
        raise ApiError(404, "unknown_consent", "No records are kept for this consent.")
    return _json(proof)


@bp.post("/sites/<site_key>/consents/<consent_id>/withdraw")
@limiter.limit()
def post_withdraw(site_key: str, consent_id: str) -> Response:
    # A browser says where it is; a site back end holding the token may call without an Origin.
    if request.headers.get("Origin") is not None:
        require_allowed_origin()
    body = parse_json_object(read_body(request), allow_empty=True)
    # The token may come in the body too, which keeps the request simple (no preflight, no URL).
    token = _visitor_token(consent_id, body)
    key = idempotency_key(request.headers.get("Idempotency-Key"), body)
    claim = idempotency_claim(key, "withdraw", body, consent_id)
    recorded = withdraw_consent(process_state(), g.site, token, body, visitor.describe(request), signer(), claim)
    return _recorded(recorded)


@bp.post("/sites/<site_key>/impressions")
@limiter.limit()
def post_impression(site_key: str) -> Response:
    require_allowed_origin()
    parse_json_object(read_body(request), allow_empty=True)
    count_impression(g.site.id, visitor.describe(request))
    return _no_store(Response(status=204))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(SPEC)
