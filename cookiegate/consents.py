"""Recording consents, withdrawing them and showing a visitor their own proof.

A consent is acknowledged only after its transaction has committed. Each
write takes the site's row first (`log_seq = log_seq + 1`), which orders the
site's hash chain and, on SQLite, takes the write lock before anything is
read, so concurrent writers wait instead of failing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Optional, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from . import dbutil
from .errors import ApiError
from .extensions import db
from .models import BannerSnapshot, ConsentRecord, ConsentRevocation, Site, utcnow
from .proof.ledger import consent_hash, payload_values, seal
from .sites import LANGUAGE_PATTERN
from .state import ProcessState, SiteState
from .tokens import ConsentToken, TokenSigner, to_ms
from .validation import bool_field, int_field, invalid, page_url, text_field
from .visitor import Visitor

USER_METHODS = ("accept_all", "reject_all", "custom")
# The append path's statements, built once: on the hottest write path the ORM's unit of work
# and per-request statement construction cost more than the database does.
_sites, _records = Site.__table__, ConsentRecord.__table__
TAKE_NEXT_SEQ = (
    update(_sites)
    .where(_sites.c.id == bindparam("site_id"))
    .values(log_seq=_sites.c.log_seq + 1)
    .returning(_sites.c.log_seq, _sites.c.log_head, _sites.c.policy_version)
)
# The demo and bulk imports take a run of sequence numbers at once.
TAKE_SEQS = (
    update(_sites)
    .where(_sites.c.id == bindparam("site_id"))
    .values(log_seq=_sites.c.log_seq + bindparam("count"))
    .returning(_sites.c.log_seq, _sites.c.log_head, _sites.c.policy_version)
)
INSERT_RECORD = _records.insert()
INSERT_REVOCATION = ConsentRevocation.__table__.insert()
SET_HEAD = update(_sites).where(_sites.c.id == bindparam("site_id")).values(log_head=bindparam("head"))
# Every column but the autoincrement id; the record object itself is never added to the session.
INSERTED_COLUMNS = tuple(c.name for c in _records.columns if c.name != "id")


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
    if raw is None:
        raw = {}
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
    choices = {slug: True for slug in state.required}
    for slug in optional:
        choices[slug] = raw.get(slug, implied if implied is not None else False)
    return {slug: choices[slug] for slug in state.categories}


def validate_consent(state: SiteState, body: dict[str, Any], signer: TokenSigner) -> ConsentRequest:
    method = body.get("method")
    if method not in USER_METHODS:
        raise invalid(f"'method' must be one of: {', '.join(USER_METHODS)}.")
    choices = _choices(state, method, body.get("choices"))
    policy_version = int_field(body, "policy_version", required=True)
    language = text_field(body, "language", max_length=35)
    if language and not LANGUAGE_PATTERN.match(language):
        raise invalid("'language' must be a language tag such as 'da' or 'en-GB'.")
    previous = signer.verify(text_field(body, "token", max_length=1024)) if body.get("token") else None
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


def hash_idempotency_key(key: Optional[str]) -> Optional[str]:
    return hashlib.sha256(key.encode("ascii")).hexdigest() if key else None


@dataclass(frozen=True)
class Recorded:
    record: ConsentRecord
    token: str
    created: bool


def _existing(site_id: int, idempotency_hash: Optional[str]) -> Optional[ConsentRecord]:
    if idempotency_hash is None:
        return None
    return db.session.execute(
        select(ConsentRecord).where(
            ConsentRecord.site_id == site_id, ConsentRecord.idempotency_hash == idempotency_hash
        )
    ).scalar_one_or_none()


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
    idempotency_hash: Optional[str],
    created_at: dt.datetime,
    factory: Callable[..., Any] = ConsentRecord,
) -> ConsentRecord:
    """One chained record (not added to the session): what every recording path stores.
    Bulk recording builds plain objects (`factory`): the ORM's instrumentation costs more than the rest."""
    location, device = visitor.location, visitor.device
    record = factory(
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
        idempotency_hash=idempotency_hash,
        removed=None,  # a live record, not a tombstone (plain objects have no column defaults)
    )
    record.payload_hash, record.chain_hash = seal(state.key, prev_hash, seq, payload_values(record))
    return record


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
    idempotency_hash: Optional[str],
) -> tuple[ConsentRecord, bool]:
    """Append one record to the site's chain and commit; (record, created)."""
    if visitor.device.is_audit:
        return _unlogged(state, consent_id, choices, method, expected_version, language, url), True
    session = db.session
    existing = _existing(state.id, idempotency_hash)
    if existing is not None:
        session.rollback()
        return existing, False
    try:
        # Taking the site row first serialises the chain (and the SQLite write lock).
        seq, prev_hash, current_version = session.execute(TAKE_NEXT_SEQ, {"site_id": state.id}).one()
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
            idempotency_hash=idempotency_hash, created_at=utcnow(),
        )
        session.execute(INSERT_RECORD, {column: getattr(record, column) for column in INSERTED_COLUMNS})
        if method == "withdraw":
            session.execute(
                INSERT_REVOCATION,
                {"site_id": state.id, "consent_hash": consent_hash(consent_id), "revoked_at": record.created_at, "reason": "withdraw"},
            )
        session.execute(SET_HEAD, {"site_id": state.id, "head": record.chain_hash})
        session.commit()
    except IntegrityError:
        # A concurrent retry with the same idempotency key won the race: answer with its record.
        session.rollback()
        existing = _existing(state.id, idempotency_hash)
        if existing is None:
            raise
        return existing, False
    if banner_hash:
        process.stored_snapshots.add(banner_hash)
    if method == "withdraw":
        process.revocations.note(consent_id, record.created_at)
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
    last_seq, head, current_version = session.execute(TAKE_SEQS, {"site_id": state.id, "count": len(consents)}).one()
    seq = last_seq - len(consents)
    rows = []
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
            banner_hash=banner_hash, idempotency_hash=None, created_at=created_at, factory=SimpleNamespace,
        )
        head = record.chain_hash
        rows.append({column: getattr(record, column) for column in INSERTED_COLUMNS})
    session.execute(INSERT_RECORD, rows)
    session.execute(SET_HEAD, {"site_id": state.id, "head": head})
    session.commit()
    process.stored_snapshots.update(banner_hashes.values())
    return len(rows)


def token_for(record: ConsentRecord, state: SiteState, signer: TokenSigner) -> str:
    return signer.sign(
        ConsentToken(
            consent_id=record.consent_id,
            site_key=state.key,
            policy_version=record.policy_version,
            granted=frozenset(slug for slug, granted in record.choices.items() if granted),
            issued_ms=to_ms(record.created_at),
            withdrawn=record.method == "withdraw",
        )
    )


def record_consent(
    process: ProcessState,
    state: SiteState,
    request: ConsentRequest,
    visitor: Visitor,
    signer: TokenSigner,
    idempotency_key: Optional[str] = None,
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
        idempotency_hash=hash_idempotency_key(idempotency_key),
    )
    return Recorded(record, token_for(record, state, signer), created)


def withdraw_consent(
    process: ProcessState,
    state: SiteState,
    token: ConsentToken,
    body: dict[str, Any],
    visitor: Visitor,
    signer: TokenSigner,
    idempotency_key: Optional[str] = None,
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
        idempotency_hash=hash_idempotency_key(idempotency_key),
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
