"""/login and /logout."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from . import bp
from .forms import LoginForm, LogoutForm
from .login import authenticate


def _safe_next(target: str | None) -> str:
    """Only a path on this service (no scheme, no host, no '//' or '\\' tricks)."""
    default = url_for("dashboard.index")
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    form = LoginForm()
    failed = False
    if request.method == "POST" and form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            next_url = _safe_next(request.args.get("next"))
            session.clear()  # no session fixation: a fresh session (and CSRF token) for the user
            login_user(user)
            # Flask-Login keeps a hash of address and browser for its session protection, which
            # is off here: the session cookie carries nothing derived from the address.
            session.pop("_id", None)
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
            return redirect(next_url, 303)
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
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"), 303)


@bp.app_context_processor
def _logout_form():
    return {"logout_form": LogoutForm, "current_user": current_user}
