"""Recording consents, withdrawing them and showing a visitor their own proof.

A consent is acknowledged only after its transaction has committed. Each
write takes the site's row first (`log_seq = log_seq + 1`), which orders the
site's hash chain and, on SQLite, takes the write lock before anything is
read, so concurrent writers wait instead of failing.

Idempotency keys live in their own table (models.IdempotencyKey), scoped to the
site, the endpoint, the consent id (withdrawals) and a fingerprint of the body,
claimed in the same transaction as the record they answer for, so a replay is
exact and a key reused with another body is refused (422
`idempotency_key_reused`), never answered with another request's consent. Keys
expire after IDEMPOTENCY_TTL (24 h): an expired key is claimed afresh, and
expired rows are deleted in small batches at most every KEY_CLEANUP_INTERVAL by
the write path of each process.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Optional, Sequence

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from .errors import ApiError
from .extensions import db
from .infra import database as dbutil, db_errors as outage
from .infra.request_checks import bool_field, int_field, invalid, page_url, text_field
from .infra.signing import ConsentToken, TokenSigner, consent_hash, to_ms
from .infra.visitor import Visitor
from .models import BannerSnapshot, ConsentRecord, ConsentRevocation, IdempotencyKey, utcnow
from .proof import ledger
from .sites.cache import ProcessState, SiteState
from .sites.site import LANGUAGE_PATTERN

USER_METHODS = ("accept_all", "reject_all", "custom")
INSERT_REVOCATION = ConsentRevocation.__table__.insert()

IDEMPOTENCY_TTL = dt.timedelta(hours=24)
KEY_CLEANUP_INTERVAL = 600.0  # seconds between two deletions of expired keys, per process
KEY_CLEANUP_BATCH = 1000
_keys = IdempotencyKey.__table__


def _claim_statement(dialect: str):
    """Insert the key, or take over an expired one; returns a row only when this request owns the key."""
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(_keys)
    return insert.on_conflict_do_update(
        index_elements=[_keys.c.site_id, _keys.c.key_hash],
        set_={name: insert.excluded[name] for name in ("body_hash", "consent_id", "answer", "created_at")},
        where=_keys.c.created_at < bindparam("cutoff", type_=_keys.c.created_at.type),
    ).returning(_keys.c.id)


CLAIM_KEY = {name: _claim_statement(name) for name in ("postgresql", "sqlite")}


@dataclass(frozen=True)
class ConsentRequest:
    choices: dict[str, bool]
    method: str
    policy_version: int
    page_url: str
    language: str
    gpc: bool
    previous: Optional[ConsentToken] = None


def new_consent_id() -> str:
    return secrets.token_hex(16)  # 128 random bits


def _choices(state: SiteState, method: str, raw: Any) -> dict[str, bool]:
    """`raw` is the body's `choices`, or the empty dict when it was left out (null is refused)."""
    if not isinstance(raw, dict):
        raise invalid("'choices' must be an object of category: true/false.", "invalid_choices")
    unknown = sorted(set(raw) - set(state.categories))
    if unknown:
        raise invalid(
            f"Unknown categories; this site has: {', '.join(state.categories)}.", "invalid_choices"
        )
    if any(not isinstance(value, bool) for value in raw.values()):
        raise invalid("Every choice must be true or false.", "invalid_choices")
    optional = [slug for slug in state.categories if slug not in state.required]
    if method == "custom" and not raw:
        raise invalid("'choices' is required for a custom choice.", "invalid_choices")
    implied = {"accept_all": True, "reject_all": False}.get(method)
    if implied is not None and any(raw.get(slug, implied) is not implied for slug in optional):
        raise invalid(f"The choices contradict method '{method}'.", "invalid_choices")
    choices = dict.fromkeys(state.required, True)
    for slug in optional:
        choices[slug] = raw.get(slug, implied if implied is not None else False)
    return {slug: choices[slug] for slug in state.categories}


def validate_consent(state: SiteState, body: dict[str, Any], signer: TokenSigner) -> ConsentRequest:
    method = body.get("method")
    if method not in USER_METHODS:
        raise invalid(f"'method' must be one of: {', '.join(USER_METHODS)}.")
    choices = _choices(state, method, body.get("choices", {}))
    policy_version = int_field(body, "policy_version", required=True)
    language = text_field(body, "language", max_length=35)
    if language and not LANGUAGE_PATTERN.match(language):
        raise invalid("'language' must be a language tag such as 'da' or 'en-GB'.")
    raw_token = text_field(body, "token", max_length=1024)
    previous = signer.verify(raw_token) if raw_token else None
    if previous is not None and previous.site_key != state.key:
        previous = None
    return ConsentRequest(
        choices=choices,
        method=method,
        policy_version=policy_version,
        page_url=page_url(text_field(body, "url", max_length=2048)),
        language=state.language_for(language or None),
        gpc=bool_field(body, "gpc"),
        previous=previous,
    )


@dataclass(frozen=True)
class IdempotencyClaim:
    key_hash: str
    body_hash: str


def idempotency_claim(key: Optional[str], endpoint: str, body: dict[str, Any], consent_id: str = "") -> Optional[IdempotencyClaim]:
    """The key's scope (endpoint, consent id) and the body's fingerprint, both hashed; None without a key."""
    if not key:
        return None
    # The key itself and, for a withdrawal, the token (it proves who asks, not what) are not content.
    ignored = ("idempotency_key", "token") if endpoint == "withdraw" else ("idempotency_key",)
    content = {name: value for name, value in body.items() if name not in ignored}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return IdempotencyClaim(
        key_hash=hashlib.sha256(f"{endpoint}\0{consent_id}\0{key}".encode("utf-8")).hexdigest(),
        body_hash=hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest(),
    )


@dataclass(frozen=True)
class Recorded:
    record: Any  # the record's columns (a plain object, or a ConsentRecord not in the session)
    token: str
    created: bool


def _replay(site_id: int, claim: IdempotencyClaim) -> ConsentRecord:
    """The first answer given under this key (as a record that is not in the session), or 422."""
    stored = db.session.execute(
        select(IdempotencyKey.body_hash, IdempotencyKey.answer).where(
            IdempotencyKey.site_id == site_id, IdempotencyKey.key_hash == claim.key_hash
        )
    ).one()
    db.session.rollback()
    if stored.body_hash != claim.body_hash:
        raise ApiError(
            422,
            "idempotency_key_reused",
            "This idempotency key was already used for a different request; use a new key for a new request.",
        )
    answer = stored.answer
    return ConsentRecord(
        consent_id=answer["consent_id"],
        seq=answer["seq"],
        policy_version=answer["policy_version"],
        choices=answer["choices"],
        method=answer["method"],
        created_at=dt.datetime.fromisoformat(answer["created_at"]),
    )


def expire_idempotency_keys(now: Optional[dt.datetime] = None, batch: int = KEY_CLEANUP_BATCH) -> int:
    """Delete up to `batch` keys older than IDEMPOTENCY_TTL and commit; how many went."""
    cutoff = (now or utcnow()) - IDEMPOTENCY_TTL
    expired = select(_keys.c.id).where(_keys.c.created_at < cutoff).limit(batch).scalar_subquery()
    deleted = db.session.execute(delete(_keys).where(_keys.c.id.in_(expired))).rowcount
    db.session.commit()
    return deleted


def _clean_up_keys(process: ProcessState) -> None:
    """Now and then, after a write: never costs the answer that was just committed."""
    now = time.monotonic()
    if now < process.next_key_cleanup:
        return
    process.next_key_cleanup = now + KEY_CLEANUP_INTERVAL
    try:
        expire_idempotency_keys()
    except SQLAlchemyError:
        db.session.rollback()


def _ensure_snapshot(process: ProcessState, state: SiteState, language: str) -> str:
    language = state.language_for(language)
    config = state.configs[language]
    digest = state.config_hashes[language]
    if digest not in process.stored_snapshots:
        db.session.execute(
            dbutil.insert(BannerSnapshot)
            .values(
                hash=digest,
                site_id=state.id,
                language=language,
                policy_version=config["policy_version"],
                content=config,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["hash"])
        )
    return digest


def _new_record(
    state: SiteState,
    *,
    seq: int,
    prev_hash: str,
    policy_version: int,
    consent_id: str,
    choices: dict[str, bool],
    method: str,
    language: str,
    url: str,
    gpc: bool,
    visitor: Visitor,
    banner_hash: str,
    created_at: dt.datetime,
) -> Any:
    """One chained record, as a plain object with the record's columns: what every recording
    path inserts. Not an ORM object: its instrumentation cost more than the rest of building it."""
    location, device = visitor.location, visitor.device
    record = SimpleNamespace(
        consent_id=consent_id,
        site_id=state.id,
        seq=seq,
        created_at=created_at,
        policy_version=policy_version,
        choices=choices,
        method=method,
        language=language,
        page_url=url,
        gpc=gpc,
        country=location.country,
        region=location.region,
        city=location.city,
        device_type=device.device_type,
        browser_family=device.browser_family,
        os_family=device.os_family,
        is_bot=device.is_bot,
        banner_hash=banner_hash,
        removed=None,  # a live record, not a tombstone (plain objects have no column defaults)
    )
    return ledger.seal_record(state.key, prev_hash, record)


def _unlogged(state: SiteState, consent_id: str, choices, method, expected_version, language, url) -> ConsentRecord:
    """The pre-consent audit's own clicks: answered like anyone's, never written (docs/audit.md)."""
    if expected_version is not None and expected_version != state.policy_version:
        raise ApiError(409, "policy_version_changed", "The site's policy has changed; show the banner again.", policy_version=state.policy_version)
    return ConsentRecord(
        consent_id=consent_id, site_id=state.id, seq=0, created_at=utcnow(), policy_version=state.policy_version,
        choices=choices, method=method, language=language, page_url=url, is_bot=True,
    )


def _append(
    process: ProcessState,
    state: SiteState,
    *,
    consent_id: str,
    choices: dict[str, bool],
    method: str,
    expected_version: Optional[int],
    language: str,
    url: str,
    gpc: bool,
    visitor: Visitor,
    claim: Optional[IdempotencyClaim],
) -> tuple[ConsentRecord, bool]:
    """Append one record to the site's chain and commit; (record, created). A replayed key answers as the first time."""
    if visitor.device.is_audit:
        return _unlogged(state, consent_id, choices, method, expected_version, language, url), True
    session = db.session
    created_at = utcnow()
    seq, prev_hash, current_version = ledger.take_next(state.id)
    if claim is not None:
        # Before the policy check: a retry of a consent recorded under an older policy gets its answer back.
        answer_data = {
            "consent_id": consent_id,
            "seq": seq,
            "policy_version": current_version,
            "choices": choices,
            "method": method,
            "created_at": created_at.isoformat(),
        }
        owned = session.execute(
            CLAIM_KEY[session.get_bind().dialect.name],
            {
                "site_id": state.id,
                "key_hash": claim.key_hash,
                "body_hash": claim.body_hash,
                "consent_id": consent_id,
                "answer": answer_data,
                "created_at": created_at,
                "cutoff": created_at - IDEMPOTENCY_TTL,
            },
        ).first()
        if owned is None:
            session.rollback()
            return _replay(state.id, claim), False
    if expected_version is not None and expected_version != current_version:
        session.rollback()
        raise ApiError(
            409,
            "policy_version_changed",
            "The site's policy has changed; show the banner again.",
            policy_version=current_version,
        )
    if current_version != state.policy_version:
        # This process's snapshot is older than the policy: reload it, so the
        # banner hash names the texts of the version being recorded.
        process.sites.invalidate(state.key)
        state = process.sites.get(state.key) or state
    banner_hash = _ensure_snapshot(process, state, language)
    record = _new_record(
        state, seq=seq, prev_hash=prev_hash, policy_version=current_version, consent_id=consent_id, choices=choices,
        method=method, language=language, url=url, gpc=gpc, visitor=visitor, banner_hash=banner_hash,
        created_at=created_at,
    )
    ledger.write(state.id, [record])
    if method == "withdraw":
        session.execute(
            INSERT_REVOCATION,
            {"site_id": state.id, "consent_hash": consent_hash(consent_id), "revoked_at": created_at, "reason": "withdraw", "up_to_seq": seq},
        )
    session.commit()
    outage.committed()
    if banner_hash:
        process.stored_snapshots.add(banner_hash)
    if method == "withdraw":
        process.revocations.note(consent_id, seq, created_at)
    if claim is not None:
        _clean_up_keys(process)
    return record, True


def record_batch(
    process: ProcessState,
    state: SiteState,
    consents: Sequence[tuple[ConsentRequest, Visitor, dt.datetime]],
) -> int:
    """Record many consents (in time order) in one transaction, chained exactly as record_consent
    chains one: the demo's sample data and bulk imports. Returns how many were recorded."""
    if not consents:
        return 0
    session = db.session
    seq, head, current_version = ledger.take_run(state.id, len(consents))
    seq -= 1
    records = []
    banner_hashes: dict[str, str] = {}
    for request, visitor, created_at in consents:
        seq += 1
        banner_hash = banner_hashes.get(request.language)
        if banner_hash is None:
            banner_hash = banner_hashes[request.language] = _ensure_snapshot(process, state, request.language)
        record = _new_record(
            state, seq=seq, prev_hash=head, policy_version=current_version,
            consent_id=request.previous.consent_id if request.previous else new_consent_id(), choices=request.choices,
            method=request.method, language=request.language, url=request.page_url, gpc=request.gpc, visitor=visitor,
            banner_hash=banner_hash, created_at=created_at,
        )
        head = record.chain_hash
        records.append(record)
    ledger.write(state.id, records)
    session.commit()
    process.stored_snapshots.update(banner_hashes.values())
    return len(records)


def token_for(record: ConsentRecord, state: SiteState, signer: TokenSigner) -> str:
    return signer.sign(
        ConsentToken(
            consent_id=record.consent_id,
            site_key=state.key,
            policy_version=record.policy_version,
            granted=frozenset(slug for slug, granted in record.choices.items() if granted),
            issued_ms=to_ms(record.created_at),
            withdrawn=record.method == "withdraw",
            seq=record.seq,
        )
    )


def record_consent(
    process: ProcessState,
    state: SiteState,
    request: ConsentRequest,
    visitor: Visitor,
    signer: TokenSigner,
    claim: Optional[IdempotencyClaim] = None,
) -> Recorded:
    consent_id = request.previous.consent_id if request.previous else new_consent_id()
    record, created = _append(
        process,
        state,
        consent_id=consent_id,
        choices=request.choices,
        method=request.method,
        expected_version=request.policy_version,
        language=request.language,
        url=request.page_url,
        gpc=request.gpc,
        visitor=visitor,
        claim=claim,
    )
    return Recorded(record, token_for(record, state, signer), created)


def withdraw_consent(
    process: ProcessState,
    state: SiteState,
    token: ConsentToken,
    body: dict[str, Any],
    visitor: Visitor,
    signer: TokenSigner,
    claim: Optional[IdempotencyClaim] = None,
) -> Recorded:
    """Record a withdrawal: every optional category refused, earlier tokens revoked."""
    language = text_field(body, "language", max_length=35)
    if language and not LANGUAGE_PATTERN.match(language):
        raise invalid("'language' must be a language tag such as 'da' or 'en-GB'.")
    record, created = _append(
        process,
        state,
        consent_id=token.consent_id,
        choices={slug: slug in state.required for slug in state.categories},
        method="withdraw",
        expected_version=None,
        language=state.language_for(language or None),
        url=page_url(text_field(body, "url", max_length=2048)),
        gpc=bool_field(body, "gpc"),
        visitor=visitor,
        claim=claim,
    )
    return Recorded(record, token_for(record, state, signer), created)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def answer(recorded: Recorded, state: SiteState) -> dict[str, Any]:
    record = recorded.record
    return {
        "consent_id": record.consent_id,
        "token": recorded.token,
        "policy_version": record.policy_version,
        "choices": record.choices,
        "method": record.method,
        "recorded_at": iso(record.created_at),
        "expires_at": iso(record.created_at + dt.timedelta(days=state.lifetime_days)),
    }
