"""Who is asking, and may they see this site? Plain functions the views and areas share.

- `load_session_user`: the user of a live login session (Flask-Login's user loader).
- `bearer_user`: the user of an `Authorization: Bearer` API token (revocable, hash stored).
- `api_user`: Bearer token first, else the login session; None when neither.
- `can_see_site` / `require_site_access`: admins see every site, marketers the sites given to them.
- `login_required` / `site_access_required`: decorators for HTML views (the admin console checks
  for admins itself, for the whole blueprint: admin/__init__.py).
"""
from __future__ import annotations

import datetime as dt
import functools
from typing import Callable, Optional

from flask import abort, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select, update

from ..errors import ApiError
from ..extensions import db
from ..models import ApiToken, Site, User, user_sites, utcnow
from .sessions import user_for_login
from .users import TOKEN_PREFIX, hash_token

# last_used_at is written at most this often per token, so API reads do not all become writes.
LAST_USED_PRECISION = dt.timedelta(minutes=5)


def load_session_user(session_id: str) -> Optional[User]:
    # The cookie names a login session row; a logout, a new password, a new role or a
    # deactivation deleted it, whatever copies of the cookie exist (sessions.py).
    return user_for_login(session_id)


def bearer_token() -> Optional[str]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def token_for(token: str) -> Optional[ApiToken]:
    """The valid token row (not revoked, its user active) for a Bearer value; reads only."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).scalar_one_or_none()
    if row is None or row.revoked or not row.user.active:
        return None
    return row


def note_token_use(row: ApiToken) -> None:
    """Maintenance write (commits at once, before the request's own work): when the token was
    last used, to LAST_USED_PRECISION, so the console can show it and a write is rare."""
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        db.session.commit()


def api_user() -> Optional[User]:
    """The caller of an API request: a valid Bearer token, else the login session.

    A request that sends a Bearer header is judged by that token alone (a bad token is
    not rescued by a session cookie)."""
    token = bearer_token()
    if token is not None or request.headers.get("Authorization"):
        row = token_for(token) if token else None
        if row is not None:
            note_token_use(row)
        user = row.user if row is not None else None
    else:
        user = current_user._get_current_object() if current_user.is_authenticated else None
    return user


def can_see_site(user: Optional[User], site_id: int) -> bool:
    if user is None or not user.active:
        return False
    if user.is_admin:
        return True
    return db.session.execute(
        select(user_sites.c.site_id).where(user_sites.c.user_id == user.id, user_sites.c.site_id == site_id)
    ).first() is not None


def visible_sites(user: User) -> list[Site]:
    query = select(Site).order_by(Site.name, Site.key)
    if not user.is_admin:
        query = query.join(user_sites, user_sites.c.site_id == Site.id).where(user_sites.c.user_id == user.id)
    return list(db.session.execute(query).scalars())


def require_site_access(site_id: int) -> User:
    """For the API: 401 `unauthorized` without a user, 403 `forbidden` for someone else's site."""
    user = api_user()
    if user is None:
        raise ApiError(401, "unauthorized", "Log in or send 'Authorization: Bearer <token>'.",
                       headers={"WWW-Authenticate": 'Bearer realm="cookiegate"'})
    if not can_see_site(user, site_id):
        raise ApiError(403, "forbidden", "You do not have access to this site.")
    return user


def unauthorized():
    """Not logged in on an HTML page: to the login page, coming back here afterwards."""
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthorized()
        return view(*args, **kwargs)

    return wrapper


def site_access_required(view: Callable) -> Callable:
    """For HTML views under /<site_key>/ (g.site set by sites/lookup.py): 403 for someone else's site."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthorized()
        if not can_see_site(current_user, g.site.id):
            abort(403)
        return view(*args, **kwargs)

    return wrapper
