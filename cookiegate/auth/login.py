"""Checking a login: rate limits per address and per account, constant work for unknown users."""
from __future__ import annotations

from typing import Optional

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import limiter
from ..models import User
from ..ratelimit import keyed
from ..users import get_user

# Checked against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


def authenticate(email: str, password: str) -> Optional[User]:
    """The user for these credentials, or None. Raises ApiError 429 when over a login limit."""
    config = current_app.config
    account = keyed("account", email.strip().lower())
    # Every attempt counts against the address; only failures count against the account,
    # so someone guessing one account's password cannot go on from many addresses.
    limiter.check("login:address", config["COOKIEGATE_LOGIN_RATELIMIT"])
    limiter.check("login:account", config["COOKIEGATE_LOGIN_ACCOUNT_RATELIMIT"], identity=account, count=False)
    user = get_user(email)
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not valid or not user.active:
        limiter.hit("login:account", config["COOKIEGATE_LOGIN_ACCOUNT_RATELIMIT"], identity=account)
        return None
    return user
