"""May each tag load? Decided from the signed token and this process's state, failing closed."""
from __future__ import annotations

import json
import time
from typing import Optional

from .infra.signing import ConsentToken, TokenSigner
from .sites.cache import Revocations, SiteState

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
    revoked = revocations.revoked(token.consent_id)
    if revoked is not None:
        up_to_seq, revoked_ms = revoked
        # The site's log order decides; clocks only for tokens or revocations from before seq ordering.
        if token.seq is not None and up_to_seq is not None:
            if token.seq <= up_to_seq:
                return "withdrawn"
        elif token.issued_ms <= revoked_ms:
            return "withdrawn"
    if now_ms - token.issued_ms > state.lifetime_days * DAY_MS:
        return "expired"
    if token.policy_version != state.policy_version:
        return "outdated"
    return "given"


def evaluate(
    state: SiteState, raw_token: Optional[str], signer: TokenSigner, revocations: Revocations, now_ms: Optional[int] = None
) -> tuple[str, Optional[ConsentToken]]:
    token = signer.verify(raw_token) if raw_token else None
    if raw_token and token is None:
        return "invalid", None
    return status_of(state, token, revocations, now_ms if now_ms is not None else int(time.time() * 1000)), token


def _fragment(state: SiteState, status: str, granted: frozenset[str]) -> str:
    """Everything after the consent id, serialised once per status and granted set (a few per site)."""
    key = (status, granted)
    fragment = state.decision_fragments.get(key)
    if fragment is None:
        allowed = state.required | granted
        rest = {
            "policy_version": state.policy_version,
            "choices": {slug: slug in allowed for slug in state.categories},
            "tags": {key: category in allowed for key, category in state.service_categories.items()},
            "consent_mode": {kind: "granted" if category in allowed else "denied" for kind, category in CONSENT_MODE.items()},
            "show_banner": status != "given",
        }
        fragment = json.dumps(rest, separators=(",", ":"))[1:-1]
        state.decision_fragments[key] = fragment
    return fragment


def decision_json(
    state: SiteState, raw_token: Optional[str], signer: TokenSigner, revocations: Revocations, now_ms: Optional[int] = None
) -> str:
    """The decision as JSON text; it runs on every page view of every site, so it is assembled from cached parts."""
    status, token = evaluate(state, raw_token, signer, revocations, now_ms)
    if status == "given" and token is not None:
        granted = frozenset(token.granted) & frozenset(state.categories)
        consent_id = json.dumps(token.consent_id)
    else:
        granted, consent_id = frozenset(), "null"
    return f'{{"status":"{status}","consent_id":{consent_id},{_fragment(state, status, granted)}}}'
