"""May each tag load? Decided from the signed token and this process's state, failing closed."""
from __future__ import annotations

import time
from typing import Any, Optional

from .state import Revocations, SiteState
from .tokens import ConsentToken, TokenSigner

DAY_MS = 86_400_000

# Google Consent Mode v2 types and the category that grants each.
CONSENT_MODE = {
    "ad_storage": "marketing",
    "ad_user_data": "marketing",
    "ad_personalization": "marketing",
    "analytics_storage": "statistics",
    "functionality_storage": "necessary",
    "personalization_storage": "preferences",
    "security_storage": "necessary",
}


def status_of(
    state: SiteState, token: Optional[ConsentToken], revocations: Revocations, now_ms: int
) -> str:
    if token is None:
        return "none"
    if token.site_key != state.key:
        return "invalid"
    if token.withdrawn:
        return "withdrawn"
    revoked_until = revocations.revoked_until(token.consent_id)
    if revoked_until is not None and token.issued_ms <= revoked_until:
        return "withdrawn"
    if now_ms - token.issued_ms > state.lifetime_days * DAY_MS:
        return "expired"
    if token.policy_version != state.policy_version:
        return "outdated"
    return "given"


def decide(
    state: SiteState,
    raw_token: Optional[str],
    signer: TokenSigner,
    revocations: Revocations,
    now_ms: Optional[int] = None,
) -> dict[str, Any]:
    token = signer.verify(raw_token) if raw_token else None
    if raw_token and token is None:
        status = "invalid"
    else:
        status = status_of(state, token, revocations, now_ms if now_ms is not None else int(time.time() * 1000))
    given = status == "given"
    granted = set(state.required)
    if given:
        granted.update(slug for slug in token.granted if slug in state.categories)
    choices = {slug: slug in granted for slug in state.categories}
    return {
        "status": status,
        "consent_id": token.consent_id if given else None,
        "policy_version": state.policy_version,
        "choices": choices,
        "tags": {key: category in granted for key, category in state.service_categories.items()},
        "consent_mode": {kind: "granted" if category in granted else "denied" for kind, category in CONSENT_MODE.items()},
        "show_banner": not given,
    }
