"""Sites: list, create, settings, banner texts with preview, categories/services/cookies, policy bump."""
from __future__ import annotations

import json
from typing import Any, Optional

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select

from ..errors import Invalid
from ..extensions import db
from ..models import Category, Service, ServiceCookie, Site
from ..sites import catalogue
from ..sites.banner_config import public_config, shipped_texts
from ..sites.catalogue import BUILTIN_SERVICES
from . import bp, changes
from .preview import preview_url


class CsrfForm(FlaskForm):
    """Every console form posts the session's CSRF token; the fields themselves are read by changes.py."""


def page(template: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("csrf", CsrfForm())
    context.setdefault("errors", {})
    return Response(render_template(template, **context), status=status)


def done(message_key: str, endpoint: str, **values: Any) -> Response:
    """After a change: commit (this view owns the transaction), say so, and show the page again (303)."""
    db.session.commit()
    flash(message_key, "done")
    return redirect(url_for(endpoint, **values), 303)


def invalid_page(template: str, error: Invalid, **context: Any) -> Response:
    db.session.rollback()
    return page(template, status=422, errors=error.errors, form=request.form, **context)


@bp.get("/")
def index() -> Response:
    sites = list(db.session.execute(select(Site).order_by(Site.name, Site.key)).scalars())
    return page("admin/index.html", sites=sites)


@bp.route("/sites/new", methods=["GET", "POST"])
def new_site() -> Response:
    if request.method == "POST":
        try:
            site = changes.create_site(
                request.form.get("name", ""), request.form.get("origins", ""), g.actor,
                privacy_policy_url=request.form.get("privacy_policy_url", ""),
            )
        except Invalid as error:
            return invalid_page("admin/new_site.html", error)
        return done("flash.site_created", "admin.site", site_key=site.key)
    return page("admin/new_site.html", form={})


def _site_form(site: Site) -> dict[str, Any]:
    settings = changes.site_settings(site)
    return {
        **{k: v for k, v in settings.items() if not isinstance(v, list)},
        "origins": "\n".join(site.origins),
        "languages": ", ".join(site.languages),
        "floating_button": site.floating_button,
        "privacy_policy_url": site.privacy_policy_url or "",
        **{name: (site.banner_colours or {}).get(key, "") for key, name in changes.COLOUR_FIELDS.items()},
    }


def snippet(site: Site) -> str:
    return f'<script src="{request.host_url}banner/v1/cookiegate.js" data-site="{site.key}" async></script>'


def _site_context(site: Site, colours: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """The site page; its banner preview shows `colours` (a draft) or else the saved ones."""
    g.frames_preview = True
    return {"site": site, "snippet": snippet(site), "time_zones": sorted(changes.time_zones()),
            "preview": preview_url(site.key, site.default_language, colours=colours)}


@bp.get("/sites/<site_key>/")
def site(site_key: str) -> Response:
    return page("admin/site.html", form=_site_form(g.site), **_site_context(g.site))


@bp.post("/sites/<site_key>/settings")
def site_settings(site_key: str) -> Response:
    if request.form.get("action") == "preview":
        # "Preview colours": the draft colours in the frame, nothing saved ("Save" applies the form).
        try:
            colours = changes.draft_colours(request.form)
        except Invalid as error:
            return page("admin/site.html", status=422, errors=error.errors, form=request.form, **_site_context(g.site))
        return page("admin/site.html", form=request.form, previewing=True, **_site_context(g.site, colours))
    try:
        changed = changes.update_site(g.site, request.form, g.actor)
    except Invalid as error:
        return invalid_page("admin/site.html", error, **_site_context(g.site))
    return done("flash.saved" if changed else "flash.unchanged", "admin.site", site_key=site_key)


@bp.post("/sites/<site_key>/colours/preview")
def colours_preview(site_key: str) -> Response:
    """For the live preview (admin.js): the frame address of the colours in the form, as JSON."""
    try:
        colours = changes.draft_colours(request.form)
    except Invalid as error:
        return Response(json.dumps({"errors": error.errors}), 422, mimetype="application/json")
    return Response(json.dumps({"url": preview_url(g.site.key, g.site.default_language, colours=colours)}), mimetype="application/json")


# ---------------------------------------------------------------- banner texts


def _texts_context(site: Site, language: str, draft: dict[str, str]) -> dict[str, Any]:
    shipped = shipped_texts(language)["banner"]
    g.frames_preview = True
    return {
        "site": site,
        "language": language,
        "keys": list(shipped),
        "shipped": shipped,
        "long_keys": changes.LONG_TEXTS,
        "values": {k: draft.get(k, "") for k in shipped},
        "preview": preview_url(site.key, language, draft),
    }


@bp.route("/sites/<site_key>/texts/<language>", methods=["GET", "POST"])
def texts(site_key: str, language: str) -> Response:
    site = g.site
    if language not in site.languages:
        return redirect(url_for("admin.texts", site_key=site_key, language=site.default_language), 303)
    if request.method == "GET":
        return page("admin/texts.html", **_texts_context(site, language, dict(site.texts.get(language, {}))))
    values = {k: request.form.get(k, "") for k in shipped_texts(language)["banner"]}
    try:
        draft = changes.draft_texts(site, language, values)
    except Invalid as error:
        context = _texts_context(site, language, dict(site.texts.get(language, {})))
        context["values"] = values
        return page("admin/texts.html", status=422, errors=error.errors, **context)
    if request.form.get("action") == "preview":
        # Shown in the frame, not saved: "Save" applies it.
        context = _texts_context(site, language, draft)
        context["values"] = values
        return page("admin/texts.html", previewing=True, **context)
    changed = changes.set_texts(site, language, values, g.actor)
    return done("flash.saved" if changed else "flash.unchanged", "admin.texts", site_key=site_key, language=language)


@bp.post("/sites/<site_key>/texts/<language>/preview")
def texts_preview(site_key: str, language: str) -> Response:
    """For the live preview (admin.js): the frame address of the draft in the form, as JSON."""
    if language not in g.site.languages:
        return Response('{"error": {"code": "not_found", "message": "No such language."}}', 404, mimetype="application/json")
    values = {k: request.form.get(k, "") for k in shipped_texts(language)["banner"]}
    try:
        draft = changes.draft_texts(g.site, language, values)
    except Invalid as error:
        return Response(json.dumps({"errors": error.errors}), 422, mimetype="application/json")
    return Response(json.dumps({"url": preview_url(g.site.key, language, draft)}), mimetype="application/json")


# ---------------------------------------------------------------- categories, services, cookies


def _services_context(site: Site) -> dict[str, Any]:
    builtins = {kind: next((s for s in site.services if s.kind == kind), None) for kind in BUILTIN_SERVICES}
    declarations = {language: public_config(site, language) for language in site.languages}
    return {"site": site, "builtins": builtins, "builtin_specs": BUILTIN_SERVICES, "declarations": declarations}


@bp.get("/sites/<site_key>/services")
def services(site_key: str) -> Response:
    return page("admin/services.html", form={}, **_services_context(g.site))


def _category(slug: str) -> Category:
    category = next((c for c in g.site.categories if c.slug == slug), None)
    if category is None:
        abort(404)
    return category


def _service(key: str) -> Service:
    service = next((s for s in g.site.services if s.key == key), None)
    if service is None:
        abort(404)
    return service


def _cookie(service: Service, cookie_id: int) -> ServiceCookie:
    cookie = next((c for c in service.cookies if c.id == cookie_id), None)
    if cookie is None:
        abort(404)
    return cookie


@bp.post("/sites/<site_key>/categories")
def add_category(site_key: str) -> Response:
    try:
        catalogue.add_category(g.site, request.form, g.actor)
    except Invalid as error:
        return invalid_page("admin/services.html", error, form_name="category", **_services_context(g.site))
    return done("flash.saved", "admin.services", site_key=site_key)


@bp.route("/sites/<site_key>/categories/<slug>", methods=["GET", "POST"])
def category(site_key: str, slug: str) -> Response:
    category = _category(slug)
    if request.method == "POST":
        try:
            changed = catalogue.update_category(category, request.form, g.actor)
        except Invalid as error:
            return invalid_page("admin/category.html", error, site=g.site, category=category)
        return done("flash.saved" if changed else "flash.unchanged", "admin.services", site_key=site_key)
    form = {}
    for language, entry in category.texts.items():
        form[f"name_{language}"] = entry.get("name", "")
        form[f"description_{language}"] = entry.get("description", "")
    return page("admin/category.html", site=g.site, category=category, form=form)


@bp.route("/sites/<site_key>/categories/<slug>/delete", methods=["GET", "POST"])
def delete_category(site_key: str, slug: str) -> Response:
    category = _category(slug)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        try:
            catalogue.delete_category(category, g.actor)
        except Invalid as error:
            return invalid_page("admin/confirm.html", error, site=g.site, what="category", name=slug, back=url_for("admin.services", site_key=site_key))
        return done("flash.deleted", "admin.services", site_key=site_key)
    return page("admin/confirm.html", site=g.site, what="category", name=slug, back=url_for("admin.services", site_key=site_key))


@bp.post("/sites/<site_key>/builtin/<kind>")
def builtin(site_key: str, kind: str) -> Response:
    spec = BUILTIN_SERVICES.get(kind)
    if spec is None:
        abort(404)
    try:
        changed = catalogue.set_builtin(g.site, kind, request.form.get(spec["setting"], ""), g.actor)
    except Invalid as error:
        return invalid_page("admin/services.html", error, **_services_context(g.site))
    return done("flash.saved" if changed else "flash.unchanged", "admin.services", site_key=site_key)


@bp.post("/sites/<site_key>/services")
def add_service(site_key: str) -> Response:
    try:
        service = catalogue.add_service(g.site, request.form, g.actor)
    except Invalid as error:
        return invalid_page("admin/services.html", error, form_name="service", **_services_context(g.site))
    return done("flash.saved", "admin.service", site_key=site_key, key=service.key)


def _service_form(service: Service) -> dict[str, Any]:
    form = {"name": service.name, "provider": service.provider, "category": service.category.slug}
    for language, entry in service.texts.items():
        form[f"description_{language}"] = entry.get("description", "")
    return form


@bp.route("/sites/<site_key>/services/<key>", methods=["GET", "POST"])
def service(site_key: str, key: str) -> Response:
    service = _service(key)
    if request.method == "POST":
        try:
            changed = catalogue.update_service(service, request.form, g.actor)
        except Invalid as error:
            return invalid_page("admin/service.html", error, site=g.site, service=service, cookie_form={})
        return done("flash.saved" if changed else "flash.unchanged", "admin.service", site_key=site_key, key=key)
    return page("admin/service.html", site=g.site, service=service, form=_service_form(service), cookie_form={})


@bp.route("/sites/<site_key>/services/<key>/delete", methods=["GET", "POST"])
def delete_service(site_key: str, key: str) -> Response:
    service = _service(key)
    back = url_for("admin.service", site_key=site_key, key=key)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        catalogue.delete_service(service, g.actor)
        return done("flash.deleted", "admin.services", site_key=site_key)
    return page("admin/confirm.html", site=g.site, what="service", name=service.name, back=back)


@bp.post("/sites/<site_key>/services/<key>/cookies")
def add_cookie(site_key: str, key: str) -> Response:
    service = _service(key)
    try:
        catalogue.add_cookie(service, request.form, g.actor)
    except Invalid as error:
        db.session.rollback()
        return page("admin/service.html", status=422, site=g.site, service=service, form=_service_form(service),
                    cookie_form=request.form, cookie_errors=error.errors)
    return done("flash.saved", "admin.service", site_key=site_key, key=key)


@bp.route("/sites/<site_key>/services/<key>/cookies/<int:cookie_id>", methods=["GET", "POST"])
def cookie(site_key: str, key: str, cookie_id: int) -> Response:
    service = _service(key)
    cookie = _cookie(service, cookie_id)
    if request.method == "POST":
        try:
            changed = catalogue.update_cookie(cookie, request.form, g.actor)
        except Invalid as error:
            return invalid_page("admin/cookie.html", error, site=g.site, service=service, cookie=cookie)
        return done("flash.saved" if changed else "flash.unchanged", "admin.service", site_key=site_key, key=key)
    form = {"name": cookie.name, "provider": cookie.provider, "expiry_days": "" if cookie.expiry_days is None else cookie.expiry_days}
    for language, purpose in cookie.purpose.items():
        form[f"purpose_{language}"] = purpose
    return page("admin/cookie.html", site=g.site, service=service, cookie=cookie, form=form)


@bp.route("/sites/<site_key>/services/<key>/cookies/<int:cookie_id>/delete", methods=["GET", "POST"])
def delete_cookie(site_key: str, key: str, cookie_id: int) -> Response:
    service = _service(key)
    cookie = _cookie(service, cookie_id)
    back = url_for("admin.service", site_key=site_key, key=key)
    if request.method == "POST" and request.form.get("confirm") == "yes":
        catalogue.delete_cookie(cookie, g.actor)
        return done("flash.deleted", "admin.service", site_key=site_key, key=key)
    return page("admin/confirm.html", site=g.site, what="cookie", name=cookie.name, back=back)


# ---------------------------------------------------------------- policy


def _policy_context(site: Site) -> dict[str, Any]:
    g.frames_preview = True
    language = request.args.get("preview_lang") or site.default_language
    if language not in site.languages:
        language = site.default_language
    return {
        "site": site,
        "asked_again": changes.visitors_asked_again(site),
        "preview": preview_url(site.key, language, policy_version=site.policy_version + 1),
        "preview_language": language,
    }


@bp.get("/sites/<site_key>/policy")
def policy(site_key: str) -> Response:
    return page("admin/policy.html", **_policy_context(g.site))


@bp.post("/sites/<site_key>/policy")
def bump_policy(site_key: str) -> Response:
    site = g.site
    if request.form.get("confirm") != "yes":
        # The first press only asks: what it does and to how many visitors, then [data-action=confirm].
        return page("admin/policy.html", confirming=True, **_policy_context(site))
    try:
        expected = int(request.form.get("policy_version", ""))
    except ValueError:
        expected = -1
    try:
        version = changes.bump_policy(site, g.actor, expected_version=expected)
    except Invalid as error:
        return page("admin/policy.html", status=409, errors=error.errors, **_policy_context(site))
    db.session.commit()
    flash("flash.bumped", "done")
    return redirect(url_for("admin.policy", site_key=site_key, bumped=version), 303)
