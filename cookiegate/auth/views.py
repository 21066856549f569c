"""/login, /logout, /account/password (your own password) and /password/reset (a one-time link)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ..extensions import db
from ..infra.ratelimit import keyed, limiter
from ..models import User
from . import bp
from .access import login_required
from .forms import ChangePasswordForm, LoginForm, LogoutForm, ResetPasswordForm, field_errors
from .login import DEVICE_COOKIE, DEVICE_MAX_AGE, LoginAttempt, authenticate, device_cookie_for
from .sessions import ENDS_KEY, end_login, start_login
from .users import check_password, set_password, user_for_reset_token

# Wrong current passwords on the password page, per user: a borrowed session cannot guess on.
PASSWORD_CHECKS = "5 per 15 minutes"


def _safe_next(target: str | None) -> str:
    """Only a path on this service (no scheme, no host, no '//' or '\\' tricks, nothing a
    browser would strip or a header could not carry: control characters fall back too)."""
    default = url_for("dashboard.index")
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def begin_session(user: User) -> None:
    """A fresh session (and CSRF token) for `user` on this browser: no session fixation."""
    session.clear()
    start_login(user)
    login_user(user)
    # Flask-Login keeps a hash of address and browser for its session protection, which is off
    # here: the session cookie carries nothing derived from the address.
    session.pop("_id", None)
    session.permanent = True
    session[ENDS_KEY] = int(user.login_session.expires_at.timestamp())


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    form = LoginForm()
    failed = False
    if request.method == "POST" and form.validate_on_submit():
        user = authenticate(LoginAttempt(form.email.data, form.password.data, request.cookies.get(DEVICE_COOKIE)))
        if user is not None:
            next_url = _safe_next(request.args.get("next"))
            begin_session(user)
            db.session.commit()
            response = redirect(next_url, 303)
            # This browser skips the per-account delay a guesser elsewhere may cause (login.py).
            response.set_cookie(DEVICE_COOKIE, device_cookie_for(user.email), max_age=DEVICE_MAX_AGE, path=url_for("auth.login"),
                                secure=request.is_secure, httponly=True, samesite="Strict")
            return response
        db.session.commit()  # the failure's audit entry
        failed = True
    elif request.method == "POST":
        failed = True
    elif current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")), 303)
    form.password.data = ""
    status = 401 if failed else 200
    return Response(render_template("auth/login.html", form=form, failed=failed), status=status)


@bp.post("/logout")
def logout() -> Response:
    # CSRF is checked before this view runs (web.html_area); LogoutForm only renders the token.
    if current_user.is_authenticated:
        # The session row goes: a copy of this cookie is worthless from the next request on.
        end_login(current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), 303)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Response:
    form = ChangePasswordForm()
    user: User = current_user._get_current_object()
    if form.validate_on_submit():
        attempts = keyed("password-change", str(user.id))
        limiter.check("password:current", PASSWORD_CHECKS, identity=attempts, count=False)
        if not check_password(user.password_hash, form.current_password.data):
            limiter.hit("password:current", PASSWORD_CHECKS, attempts)
            form.current_password.errors.append("Not your current password.")
        else:
            # Every session of the user ends (a stolen cookie with them); this browser gets a new one.
            set_password(user, form.new_password.data, actor=user.email, action="user.password_change")
            begin_session(user)
            db.session.commit()
            flash("account.password_changed", "done")
            return redirect(url_for("auth.change_password"), 303)
    status = 422 if form.errors else 200
    return Response(render_template("auth/password.html", form=form, errors=field_errors(form)), status=status)


@bp.route("/password/reset", methods=["GET", "POST"])
def reset_password() -> Response:
    form = ResetPasswordForm()
    if request.method == "GET":
        form.token.data = request.args.get("token", "")
    user = user_for_reset_token(form.token.data or "")
    if user is None:
        # Expired, used, for a deactivated account, or never made here: one answer for all.
        return Response(render_template("auth/reset_invalid.html"), status=410)
    if form.validate_on_submit():
        set_password(user, form.new_password.data, actor=user.email, action="user.password_reset")
        if current_user.is_authenticated:  # someone else's login in this browser ends with it
            end_login(current_user._get_current_object())
        db.session.commit()
        logout_user()
        session.clear()
        flash("login.password_set", "done")
        return redirect(url_for("auth.login"), 303)
    status = 422 if form.errors else 200
    return Response(render_template("auth/reset.html", form=form, errors=field_errors(form), person=user), status=status)


@bp.app_context_processor
def _logout_form():
    return {"logout_form": LogoutForm, "current_user": current_user}
