"""GET /api/v1/sites/<key>/decision: may each tag load? The hottest route of the service."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from flask import Response, g
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ..decision import decision_json
from ..infra.signing import signer
from ..sites.cache import process_state
from . import bp
from .common import ALLOW_ORIGIN, CHOICES_SCHEMA, NO_STORE, UNAVAILABLE, UNKNOWN_SITE, no_store
from .contract import Answer, Parameters, operation
from .proof import token_from_request

Granted = Literal["granted", "denied"]


class ConsentMode(BaseModel):
    """Google Consent Mode v2 signals."""

    ad_storage: Granted
    ad_user_data: Granted
    ad_personalization: Granted
    analytics_storage: Granted
    functionality_storage: Granted
    personalization_storage: Granted
    security_storage: Granted


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["given", "none", "invalid", "expired", "outdated", "withdrawn"]
    consent_id: Optional[str]
    policy_version: int
    choices: Annotated[dict[str, bool], WithJsonSchema(CHOICES_SCHEMA)]
    tags: dict[str, bool]
    consent_mode: ConsentMode
    show_banner: bool


# The token may be anything: a bad one is the answer `invalid`, never an error, so nothing here is
# checked by a model (the decision route does not pay for validation it does not need).
class DecisionQuery(Parameters):
    token: str = Field(None, description="The visitor's consent token.")


class DecisionHeaders(Parameters):
    token: str = Field(None, alias="X-Cookiegate-Token", description="The visitor's consent token.")


class DecisionCookies(Parameters):
    token: str = Field(None, alias="cookiegate", description="The banner's first-party cookie (on the site's own domain).")


@bp.get("/sites/<site_key>/decision")
@operation(
    summary="May each tag load? Fails closed, never errors for a bad, expired or missing token.",
    query=DecisionQuery,
    headers=DecisionHeaders,
    cookies=DecisionCookies,
    preflight=True,
    answers={
        200: Answer("The decision.", Decision, headers={"Cache-Control": NO_STORE, "Access-Control-Allow-Origin": ALLOW_ORIGIN}),
        404: UNKNOWN_SITE,
        503: UNAVAILABLE,
    },
)
def decision(site_key: str) -> Response:
    body = decision_json(g.site, token_from_request(cookie=True), signer(), process_state().revocations)
    return no_store(Response(body, mimetype="application/json"))
