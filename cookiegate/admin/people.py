"""Users, their role and site access, and their API tokens (shown once, revocable, last use shown)."""
from __future__ import annotations

from flask import Response, abort, flash, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import ApiToken, Site, User
from . import bp, changes
from .changes import Invalid
from .views import done, page


def _all_sites() -> list[Site]:
    return list(db.session.execute(select(Site).order_by(Site.name, Site.key)).scalars())


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


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


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int) -> Response:
    person = _user(user_id)
    if request.method == "POST":
        try:
            changed = changes.update_user(person, request.form, request.form.getlist("sites"), g.actor, acting_user=current_user)
        except Invalid as error:
            db.session.rollback()
            return page("admin/user.html", status=422, person=person, sites=_all_sites(), errors=error.errors,
                        form=request.form, chosen=request.form.getlist("sites"))
        return done("flash.saved" if changed else "flash.unchanged", "admin.user", user_id=user_id)
    form = {"role": person.role, "active": person.active}
    return page("admin/user.html", person=person, sites=_all_sites(), form=form, chosen=[s.key for s in person.sites])


@bp.post("/users/<int:user_id>/tokens")
def create_token(user_id: int) -> Response:
    person = _user(user_id)
    token = changes.create_token(person, g.actor)
    db.session.commit()
    # Shown in this answer only (never stored, never in a URL or a flash cookie).
    return page("admin/token_created.html", person=person, token=token)


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
    return page("admin/confirm.html", what="token", name=token.prefix + "…", back=back)
