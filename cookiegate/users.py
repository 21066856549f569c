"""Users (admins, marketers) and their Bearer API tokens."""
from __future__ import annotations

import hashlib
import re
import secrets
from typing import Iterable, Optional

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from .extensions import db
from . import audit_trail
from .models import ApiToken, Site, User, utcnow

ROLES = ("admin", "marketer")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,63}$")
TOKEN_PREFIX = "cg_"
MIN_PASSWORD_LENGTH = 10


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def get_user(email: str) -> Optional[User]:
    return db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def create_user(email: str, password: str, role: str, sites: Iterable[Site] = (), actor: str = "cli") -> User:
    email = email.strip().lower()
    if not EMAIL_PATTERN.match(email):
        raise ValueError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if get_user(email) is not None:
        raise ValueError(f"a user {email} exists already")
    user = User(email=email, password_hash=generate_password_hash(password), role=role, active=True)
    user.sites = list(sites)
    db.session.add(user)
    audit_trail.record(actor, "user.create", email=email, role=role, sites=[s.key for s in user.sites])
    return user


def create_api_token(user: User, actor: str = "cli") -> str:
    """A new Bearer token; only its hash is stored, so this is the one chance to see it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user=user, token_hash=hash_token(token), prefix=token[:10], created_at=utcnow()))
    audit_trail.record(actor, "token.create", email=user.email, prefix=token[:10])
    return token

