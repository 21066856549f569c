"""Users (admins, marketers): passwords, access, deletion, one-time reset links, and their
Bearer API tokens. Plain functions; the caller commits (one place owns each transaction).

Whatever changes what a user may do ends their login sessions at once (sessions.py): a new
password, deactivation, a role change, deletion. Deactivation also revokes their API tokens
for good, so reactivating an account brings none of its old credentials back.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from typing import Iterable, Optional

from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit_trail
from ..config import PASSWORD_HASH
from ..errors import Invalid, raise_if
from ..extensions import db
from ..models import ApiToken, Site, User, utcnow
from .sessions import end_all_logins

ROLES = ("admin", "marketer")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
TOKEN_PREFIX = "cg_"
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MAX_TOKEN_NAME = 80
RESET_SALT = "cookiegate.password-reset.v1"
RESET_MAX_AGE = 3600


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def get_user(email: str) -> Optional[User]:
    return db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


# --- passwords -------------------------------------------------------------------------------

def password_method() -> str:
    return current_app.config.get("COOKIEGATE_PASSWORD_HASH", PASSWORD_HASH)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=password_method())


def needs_rehash(stored_hash: str) -> bool:
    """Made with other parameters than the configured ones (say, werkzeug's older default)."""
    return stored_hash.split("$", 1)[0] != password_method()


def check_password(stored_hash: str, password: str) -> bool:
    return check_password_hash(stored_hash, password)


def password_problem(password: str) -> Optional[str]:
    """Why this password cannot be used, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"At least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"At most {MAX_PASSWORD_LENGTH} characters."
    return None


def set_password(user: User, password: str, actor: str, action: str = "user.set_password") -> None:
    """A new password; every login session of the user ends (a reset link made before stops working too)."""
    problem = password_problem(password)
    if problem:
        raise Invalid({"password": problem})
    user.password_hash = hash_password(password)
    ended = end_all_logins(user)
    audit_trail.record(actor, action, email=user.email, sessions_ended=ended)


# --- accounts --------------------------------------------------------------------------------

def new_user_problems(email: str, password: str, role: str) -> dict[str, str]:
    """What is wrong with a new account, per field (the e-mail is compared lower-cased)."""
    problems: dict[str, str] = {}
    email = (email or "").strip().lower()
    if not EMAIL_PATTERN.match(email):
        problems["email"] = "Not an e-mail address."
    elif get_user(email) is not None:
        problems["email"] = "A user with this address exists already."
    if role not in ROLES:
        problems["role"] = "Choose admin or marketer."
    problem = password_problem(password or "")
    if problem:
        problems["password"] = problem
    return problems


def create_user(email: str, password: str, role: str, sites: Iterable[Site] = (), actor: str = "cli") -> User:
    """A user (Invalid names each wrong field); the caller commits."""
    raise_if(new_user_problems(email, password, role))
    email = email.strip().lower()
    user = User(email=email, password_hash=hash_password(password), role=role, active=True)
    user.sites = list(sites)
    db.session.add(user)
    audit_trail.record(actor, "user.create", email=email, role=role, sites=[s.key for s in user.sites])
    return user


def after_access_change(user: User, before: dict, actor: str) -> None:
    """After the role or the active flag changed: end the user's login sessions; a deactivation
    revokes their API tokens too (for good: reactivating brings neither back)."""
    if before.get("role") != user.role or before.get("active") != user.active:
        end_all_logins(user)
    if before.get("active") and not user.active:
        revoke_tokens(user, actor)


def delete_user(user: User, actor: str) -> None:
    """Delete the user with their tokens and login sessions. The audit trail keeps their e-mail
    as text (entries name people by address, never by a row that can go)."""
    audit_trail.record(actor, "user.delete", email=user.email, role=user.role)
    end_all_logins(user)
    db.session.delete(user)


# --- one-time reset links --------------------------------------------------------------------

def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["COOKIEGATE_SECRET_KEYS"], salt=RESET_SALT)


def _password_fingerprint(user: User) -> str:
    # Part of the reset token: once the password changes (the link was used, or another was),
    # the token no longer matches. Hashes carry a fresh salt, so setting the same password counts too.
    return hashlib.sha256(user.password_hash.encode("utf-8")).hexdigest()[:20]


def reset_token(user: User, actor: str) -> str:
    """A signed, single-use token that sets a new password within RESET_MAX_AGE seconds."""
    audit_trail.record(actor, "user.reset_link", email=user.email, valid_minutes=RESET_MAX_AGE // 60)
    return _reset_serializer().dumps({"u": user.id, "f": _password_fingerprint(user)})


def user_for_reset_token(token: str) -> Optional[User]:
    """The active user a valid, unused, unexpired reset token is for, else None."""
    if not token or len(token) > 500:
        return None
    try:
        payload = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
        user = db.session.get(User, int(payload["u"]))
    except (BadData, KeyError, TypeError, ValueError):
        return None
    if user is None or not user.active or not secrets.compare_digest(str(payload.get("f", "")), _password_fingerprint(user)):
        return None
    return user


# --- API tokens ------------------------------------------------------------------------------

def token_name_problem(name: str) -> Optional[str]:
    if len(name) > MAX_TOKEN_NAME:
        return f"At most {MAX_TOKEN_NAME} characters."
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
        return "Contains control characters."
    return None


def create_api_token(user: User, actor: str = "cli", name: Optional[str] = None) -> str:
    """A new Bearer token; only its hash is stored, so this is the one chance to see it."""
    name = (name or "").strip() or None
    problem = token_name_problem(name or "")
    if problem:
        raise Invalid({"name": problem})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=hash_token(token), prefix=token[:10], name=name, created_at=utcnow()))
    audit_trail.record(actor, "token.create", email=user.email, prefix=token[:10], name=name)
    return token


def revoke_token(token: ApiToken, actor: str) -> bool:
    """Revoke one token (at the next request it is refused); False when it was revoked already."""
    if token.revoked:
        return False
    token.revoked = True
    audit_trail.record(actor, "token.revoke", before={"revoked": False}, after={"revoked": True},
                       email=token.user.email, prefix=token.prefix, name=token.name)
    return True


def revoke_tokens(user: User, actor: str) -> int:
    """Revoke every token of `user` that is still valid."""
    rows = db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))).scalars()
    return sum(revoke_token(row, actor) for row in list(rows))
