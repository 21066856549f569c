"""Sessions: Flask's signed cookie, opened only when the request carries one, and the login
sessions behind it, kept in the database so that a session can end before its cookie does.

The public API never uses a session, and building the session serializer for every request
costs about a fifth of a small API answer. The login session (auth/) is this cookie: HttpOnly,
SameSite=Lax, Secure when the request came over https (directly or through a trusted proxy).

A login writes a LoginSession row and puts a random secret in the cookie (Flask-Login's user
id); the row keeps only the secret's SHA-256, the user and when the login ends: the login time
plus COOKIEGATE_SESSION_HOURS, however active the session is (re-signing the cookie, as every
flash() does, moves nothing). Each request that uses the login loads the row with its user in
one query, what loading the user alone cost before. Logging out deletes the row, so a copy of
the cookie taken before is worthless at once, in every process; a password change,
deactivation, a role change and deleting the user delete every row of that user.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Optional

from flask import current_app, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import delete, select
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import LoginSession, User, utcnow

SESSIONLESS_PREFIXES = ("/api/", "/banner/")
# Where the cookie keeps the end of the login (a Unix time), so the browser drops it then too.
ENDS_KEY = "_ends"


class SessionOnDemand(SecureCookieSessionInterface):
    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def get_expiration_time(self, app, session) -> Optional[dt.datetime]:
        # The cookie expires when the login ends, not a full lifetime after the latest re-signing.
        ends = session.get(ENDS_KEY)
        if isinstance(ends, int):
            return dt.datetime.fromtimestamp(ends, dt.timezone.utc)
        return super().get_expiration_time(app, session)

    def open_session(self, app, request):
        if "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies:
            # The public API and the banner files never start a session: a null session also
            # skips the work of saving one after every answer.
            if request.path.startswith(SESSIONLESS_PREFIXES):
                return self.null_session_class()
            return self.session_class()
        return super().open_session(app, request)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start_login(user: User, now: Optional[dt.datetime] = None) -> LoginSession:
    """A new login session for `user` (the caller commits); `user.get_id()` then names it."""
    now = now or utcnow()
    # Ended logins of anyone go here, not in a request that merely uses one.
    db.session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    row = LoginSession(user=user, secret_hash=_digest(secret), created_at=now,
                       expires_at=now + current_app.config["PERMANENT_SESSION_LIFETIME"])
    db.session.add(row)
    user.login_session, user.login_secret = row, secret
    return row


def user_for_login(secret: str, now: Optional[dt.datetime] = None) -> Optional[User]:
    """The active user of a live login session named by `secret` (from the cookie), else None."""
    if not secret or len(secret) > 100:
        return None
    row = db.session.execute(
        select(LoginSession).options(joinedload(LoginSession.user)).where(LoginSession.secret_hash == _digest(secret))
    ).scalar_one_or_none()
    if row is None or row.expires_at <= (now or utcnow()) or not row.user.active:
        return None
    row.user.login_session, row.user.login_secret = row, secret
    return row.user


def end_login(user: User) -> None:
    """End the login session `user` was loaded for (logout); the caller commits."""
    if user.login_session is not None:
        db.session.execute(delete(LoginSession).where(LoginSession.id == user.login_session.id))
        user.login_session = user.login_secret = None


def end_all_logins(user: User) -> int:
    """End every login session of `user`, on every browser; the caller commits."""
    ended = db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount
    user.login_session = user.login_secret = None
    return ended or 0


def login_binding(user: User) -> tuple[int, str]:
    """What names the current login session without revealing its secret (for URLs bound to it)."""
    row = user.login_session
    return row.id, row.secret_hash[:16]


def login_alive(binding, now: Optional[dt.datetime] = None) -> bool:
    """Is the login session named by `login_binding` still going?"""
    try:
        session_id, prefix = int(binding[0]), str(binding[1])
    except (TypeError, ValueError, IndexError, KeyError):
        return False
    row = db.session.execute(
        select(LoginSession).options(joinedload(LoginSession.user)).where(LoginSession.id == session_id)
    ).scalar_one_or_none()
    return row is not None and row.secret_hash[:16] == prefix and row.expires_at > (now or utcnow()) and row.user.active
