"""Signed consent tokens: what the visitor chose, verifiable without a database read.

Keys rotate: COOKIEGATE_SECRET_KEYS lists them oldest first; the last signs,
all verify. A token is deterministic for a given record, so an idempotent retry
returns the very same token.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Iterable, Optional

from itsdangerous import BadData, Serializer, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode

CONSENT_SALT = "cookiegate.consent-token.v1"
MAX_TOKEN_LENGTH = 1024


@dataclass(frozen=True)
class ConsentToken:
    consent_id: str
    site_key: str
    policy_version: int
    granted: frozenset[str]
    issued_ms: int
    withdrawn: bool = False
    # The record's position in the site's log: withdrawals are ordered by it, never by clocks.
    # None only in tokens issued before it was added.
    seq: Optional[int] = None


def to_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class KeyCachingSigner(Signer):
    """Derives each key once instead of on every signature (the decision endpoint verifies on every call)."""

    def derive_key(self, secret_key: Optional[bytes] = None) -> bytes:
        cache = self.__dict__.setdefault("_derived", {})
        if secret_key not in cache:
            cache[secret_key] = super().derive_key(secret_key)
        return cache[secret_key]


class ReadableSerializer(URLSafeSerializer):
    """Never zlib-compresses, so the banner can read the payload (base64url JSON before the first dot).

    The payload is public by design (the visitor's own choices); only the signature is secret.
    One signer serves every call.
    """

    signer = KeyCachingSigner

    def dump_payload(self, obj) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))

    def make_signer(self, salt=None) -> Signer:
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)
        if "_signer" not in self.__dict__:
            self._signer = super().make_signer(salt)
        return self._signer


class TokenSigner:
    # A returning visitor presents the same token on every page view: the last verified ones are
    # looked up instead of checked again (base64, HMAC and JSON are a tenth of a decision request).
    # Only tokens whose signature held go in; the cache is emptied when full, which bounds memory.
    VERIFIED_CACHE_SIZE = 4096

    def __init__(self, secret_keys: Iterable[str]):
        self._serializer = ReadableSerializer(
            list(secret_keys), salt=CONSENT_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self._verified: dict[str, ConsentToken] = {}

    def sign(self, token: ConsentToken) -> str:
        payload = {
            "c": token.consent_id,
            "s": token.site_key,
            "v": token.policy_version,
            "g": sorted(token.granted),
            "t": token.issued_ms,
        }
        if token.seq is not None:
            payload["q"] = token.seq
        if token.withdrawn:
            payload["w"] = 1
        return self._serializer.dumps(payload)

    def verify(self, raw: Optional[str]) -> Optional[ConsentToken]:
        """The token if its signature holds and its shape is ours; else None (never raises)."""
        if not raw or len(raw) > MAX_TOKEN_LENGTH:
            return None
        known = self._verified.get(raw)
        if known is not None:
            return known
        token = self._check(raw)
        if token is not None:
            if len(self._verified) >= self.VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[raw] = token
        return token

    def _check(self, raw: str) -> Optional[ConsentToken]:
        try:
            payload = self._serializer.loads(raw)
        except (BadData, UnicodeError, ValueError):
            return None
        try:
            token = ConsentToken(
                consent_id=payload["c"],
                site_key=payload["s"],
                policy_version=payload["v"],
                granted=frozenset(payload["g"]),
                issued_ms=payload["t"],
                withdrawn=bool(payload.get("w")),
                seq=payload.get("q"),
            )
        except (KeyError, TypeError):
            return None
        if not (
            isinstance(token.consent_id, str)
            and isinstance(token.site_key, str)
            and type(token.policy_version) is int
            and type(token.issued_ms) is int
            and (token.seq is None or type(token.seq) is int)
            and all(isinstance(g, str) for g in token.granted)
        ):
            return None
        return token


def init_app(app) -> None:
    app.extensions["cookiegate.signer"] = TokenSigner(app.config["COOKIEGATE_SECRET_KEYS"])


def signer() -> TokenSigner:
    from flask import current_app

    return current_app.extensions["cookiegate.signer"]


def consent_hash(consent_id: str) -> str:
    """One-way name of a consent id, where the id itself must not be kept (revocations, erasure,
    the audit trail). Here, below sites/ and proof/, because both key their records by it."""
    return hashlib.sha256(consent_id.encode("utf-8")).hexdigest()
