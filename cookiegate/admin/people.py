"""Users: their role and site access, their password (set one, or make a one-time reset link),
deleting them, and their named API tokens (shown once, revocable, last use shown).

Role and access changes go through changes.py; passwords, reset links, deletion and tokens are
plain functions of cookiegate.auth.users, validated by the Flask-WTF forms here. Every view commits.
"""
from __future__ import annotations

from typing import Any

from flask import Response, abort, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..auth.forms import NewPasswordForm, field_errors
from ..auth.users import delete_user as delete_account, reset_token, set_password
from ..errors import Invalid
from ..extensions import db
from ..models import ApiToken, Site, User
from . import bp, changes
from .forms import DeleteUserForm, TokenForm
from .views import done, page


def _all_sites() -> list[Site]:
    return list(db.session.execute(select(Site).order_by(Site.name, Site.key)).scalars())


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _is_me(person: User) -> bool:
    return person.id == current_user.id


@bp.route("/users/", methods=["GET", "POST"])
def users() -> Response:
    people = list(db.session.execute(select(User).order_by(User.email)).scalars())
    if request.method == "POST":
        try:
            user = changes.create_user(request.form, request.form.getlist("sites"), g.actor)
        except Invalid as error:
            db.session.rollback()
            return page("admin/users.html", status=422, users=people, sites=_all_sites(), errors=error.errors,
                        form=request.form, chosen=request.form.getlist("sites"))
        return done("flash.user_created", "admin.user", user_id=user.id)
    return page("admin/users.html", users=people, sites=_all_sites(), form={}, chosen=[])


def _user_page(person: User, status: int = 200, **context: Any) -> Response:
    """The user's page: access, password, reset link, tokens; `context` brings a form's errors."""
    context.setdefault("form", {"role": person.role, "active": person.active})
    context.setdefault("chosen", [s.key for s in person.sites])
    context.setdefault("password_form", NewPasswordForm(formdata=None))
    context.setdefault("token_form", TokenForm(formdata=None))
    return page("admin/user.html", status=status, person=person, sites=_all_sites(), is_me=_is_me(person), **context)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int) -> Response:
    person = _user(user_id)
    if request.method == "POST":
        try:
            changed = changes.update_user(person, request.form, request.form.getlist("sites"), g.actor, acting_user=current_user)
        except Invalid as error:
            db.session.rollback()
            return _user_page(person, 422, errors=error.errors, form=request.form, chosen=request.form.getlist("sites"))
        return done("flash.saved" if changed else "flash.unchanged", "admin.user", user_id=user_id)
    return _user_page(person)


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int) -> Response:
    person = _user(user_id)
    if _is_me(person):
        # Your own password needs your current one: the account page asks for it.
        return redirect(url_for("auth.change_password"), 303)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return _user_page(person, 422, password_form=form, errors=field_errors(form))
    set_password(person, form.new_password.data, actor=g.actor)  # every session of theirs ends
    return done("flash.password_set", "admin.user", user_id=user_id)


@bp.post("/users/<int:user_id>/reset-link")
def reset_link(user_id: int) -> Response:
    person = _user(user_id)
    # (The CSRF token was checked before this view, as for every console form: web.html_area.)
    if _is_me(person) or not person.active:
        abort(409)
    token = reset_token(person, g.actor)
    db.session.commit()
    # The link is shown in this answer only (never stored, never in a flash cookie or a URL of ours).
    link = url_for("auth.reset_password", token=token, _external=True)
    return page("admin/reset_link.html", person=person, link=link)


@bp.route("/users/<int:user_id>/delete", methods=["GET", "POST"])
def delete_user(user_id: int) -> Response:
    person = _user(user_id)
    if _is_me(person):
        abort(409)  # the page offers no such button; another admin must do it
    form = DeleteUserForm(person.email)
    if request.method == "POST":
        if form.validate_on_submit():
            delete_account(person, g.actor)
            return done("flash.user_deleted", "admin.users")
        return page("admin/delete_user.html", status=422, person=person, delete_form=form, errors=field_errors(form), form={})
    return page("admin/delete_user.html", person=person, delete_form=form, form={})


@bp.post("/users/<int:user_id>/tokens")
def create_token(user_id: int) -> Response:
    person = _user(user_id)
    form = TokenForm()
    if not form.validate_on_submit():
        return _user_page(person, 422, token_form=form, errors=field_errors(form))
    token = changes.create_token(person, g.actor, name=form.name.data)
    db.session.commit()
    # Shown in this answer only (never stored, never in a URL or a flash cookie).
    return page("admin/token_created.html", person=person, token=token, name=form.name.data.strip())


@bp.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
def revoke_token(user_id: int, token_id: int) -> Response:
    person = _user(user_id)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != person.id:
        abort(404)
    back = url_for("admin.user", user_id=user_id)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        changes.revoke_token(token, g.actor)
        return done("flash.revoked", "admin.user", user_id=user_id)
    return page("admin/confirm.html", what="token", name=(token.name + " · " if token.name else "") + token.prefix + "…", back=back)
