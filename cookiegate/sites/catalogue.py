"""The catalogue of what a banner can release: a site's categories, its services and their
cookies, and the built-in services (Google Analytics, the Meta pixel) with the first-party
cookies they set. Every change is a function here: it checks its whole input (Invalid names each
wrong field, and nothing is applied), applies it, records it in the audit trail, and leaves the
commit to the caller."""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Optional

from .. import audit_trail
from ..errors import Invalid, raise_if
from ..extensions import db
from ..infra.request_checks import FORBIDDEN_CHARACTERS
from ..models import Category, Service, ServiceCookie, Site
from .fields import check_text, check_whole

SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SERVICE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
# Declared cookie names are shown, never set: printable, no separators; `*` marks a pattern (`_ga_*`).
COOKIE_NAME = re.compile(r"^[^\s;,=]{1,200}$")

# Built-in services: what they are and which first-party cookies they set.
BUILTIN_SERVICES: dict[str, dict[str, Any]] = {
    "google_analytics": {
        "name": "Google Analytics",
        "provider": "Google Ireland Ltd.",
        "category": "statistics",
        "setting": "measurement_id",
        "pattern": re.compile(r"^G-[A-Z0-9]{4,20}$"),
        # What GA4 sets: _ga and _ga_<container-id> (the measurement id without "G-"); _gid was Universal Analytics'.
        "cookies": [("_ga", 730), ("_ga_{container}", 730)],
    },
    "facebook_pixel": {
        "name": "Meta Pixel",
        "provider": "Meta Platforms Ireland Ltd.",
        "category": "marketing",
        "setting": "pixel_id",
        "pattern": re.compile(r"^[0-9]{5,20}$"),
        "cookies": [("_fbp", 90), ("_fbc", 90)],
    },
}


def ident_problem(kind: str, ident: str) -> Optional[str]:
    """Why `ident` is no id of this built-in service (a GA4 measurement id, a pixel id), or None."""
    spec = BUILTIN_SERVICES[kind]
    if not spec["pattern"].match(ident):
        return f"{ident[:40]!r} is not a valid {spec['setting'].replace('_', ' ')}."
    return None


def builtin_service(kind: str, ident: str, category: Category, position: int) -> Service:
    """The service with its cookies; Invalid names the setting when `ident` does not fit."""
    spec = BUILTIN_SERVICES[kind]
    problem = ident_problem(kind, ident)
    if problem:
        raise Invalid({spec["setting"]: problem})
    service = Service(
        key=kind,
        kind=kind,
        name=spec["name"],
        provider=spec["provider"],
        settings={spec["setting"]: ident},
        category=category,
        position=position,
    )
    container = ident.removeprefix("G-")
    service.cookies = [
        ServiceCookie(name=name.format(container=container), provider=spec["provider"], expiry_days=days)
        for name, days in spec["cookies"]
    ]
    return service


# --- categories ----------------------------------------------------------------------------


def _category_texts(form: Mapping[str, Any], languages: Iterable[str], errors: dict[str, str]) -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for language in languages:
        name = check_text(form.get(f"name_{language}"), f"name_{language}", errors, max_length=100)
        description = check_text(form.get(f"description_{language}"), f"description_{language}", errors, max_length=1000, multiline=True)
        entry = {k: v for k, v in (("name", name), ("description", description)) if v}
        if entry:
            texts[language] = entry
    return texts


def category_state(category: Category) -> dict[str, Any]:
    return {"slug": category.slug, "required": category.required, "texts": category.texts}


def add_category(site: Site, form: Mapping[str, Any], actor: str) -> Category:
    errors: dict[str, str] = {}
    slug = (form.get("slug") or "").strip().lower()
    if not SLUG.match(slug):
        errors["slug"] = "Lower-case letters, digits and _ (such as preferences), starting with a letter."
    elif any(c.slug == slug for c in site.categories):
        errors["slug"] = "The site has this category already."
    texts = _category_texts(form, site.languages, errors)
    raise_if(errors)
    category = Category(slug=slug, required=False, position=len(site.categories), texts=texts)
    site.categories.append(category)
    db.session.flush()
    audit_trail.record(actor, "category.create", site, after=category_state(category))
    return category


def update_category(category: Category, form: Mapping[str, Any], actor: str) -> bool:
    errors: dict[str, str] = {}
    texts = _category_texts(form, category.site.languages, errors)
    raise_if(errors)
    if texts == category.texts:
        return False
    before = category_state(category)
    category.texts = texts
    old, new = audit_trail.diff(before, category_state(category))
    audit_trail.record(actor, "category.update", category.site, before=old, after=new, slug=category.slug)
    return True


def delete_category(category: Category, actor: str) -> None:
    if category.required:
        raise Invalid({"category": "The necessary category cannot be removed."})
    if category.services:
        raise Invalid({"category": "Move or remove its services first."})
    site = category.site
    before = category_state(category)
    site.categories.remove(category)
    for position, remaining in enumerate(site.categories):
        remaining.position = position
    audit_trail.record(actor, "category.delete", site, before=before)


# --- services and cookies --------------------------------------------------------------------


def service_state(service: Service) -> dict[str, Any]:
    return {
        "key": service.key,
        "kind": service.kind,
        "name": service.name,
        "provider": service.provider,
        "category": service.category.slug if service.category else None,
        "settings": dict(service.settings or {}),
        "texts": service.texts,
        "cookies": [cookie_state(c) for c in service.cookies],
    }


def cookie_state(cookie: ServiceCookie) -> dict[str, Any]:
    return {"name": cookie.name, "provider": cookie.provider, "expiry_days": cookie.expiry_days, "purpose": cookie.purpose}


def _category_of(site: Site, slug: Optional[str], errors: dict[str, str]) -> Optional[Category]:
    category = next((c for c in site.categories if c.slug == (slug or "")), None)
    if category is None:
        errors["category"] = "Choose one of the site's categories."
    return category


def _builtin_cookie_names(kind: str, ident: str) -> list[str]:
    # As builtin_service names them.
    return [name.format(container=ident.removeprefix("G-")) for name, _ in BUILTIN_SERVICES[kind]["cookies"]]


def set_builtin(site: Site, kind: str, ident: Optional[str], actor: str) -> bool:
    """Google Analytics / Meta pixel on (with its id), id changed, or off (empty id)."""
    spec = BUILTIN_SERVICES.get(kind)
    if spec is None:
        raise Invalid({"kind": "Unknown built-in service."})
    ident = (ident or "").strip()
    if kind == "google_analytics":
        ident = ident.upper()
    existing = next((s for s in site.services if s.kind == kind), None)
    if not ident:
        if existing is None:
            return False
        before = service_state(existing)
        site.services.remove(existing)
        audit_trail.record(actor, "service.delete", site, before=before)
        return True
    if not spec["pattern"].match(ident):
        example = "G-XXXXXXXXXX" if kind == "google_analytics" else "a number of 5 to 20 digits"
        raise Invalid({spec["setting"]: f"Not a valid {spec['setting'].replace('_', ' ')} ({example})."})
    if existing is not None:
        if existing.settings.get(spec["setting"]) == ident:
            return False
        before = service_state(existing)
        # Declared names that come from the id (GA4's _ga_<container-id>) follow it.
        renamed = dict(zip(_builtin_cookie_names(kind, existing.settings[spec["setting"]]), _builtin_cookie_names(kind, ident)))
        for cookie in existing.cookies:
            cookie.name = renamed.get(cookie.name, cookie.name)
        existing.settings = {**existing.settings, spec["setting"]: ident}
        old, new = audit_trail.diff(before, service_state(existing))
        audit_trail.record(actor, "service.update", site, before=old, after=new, service=kind)
        return True
    category = next((c for c in site.categories if c.slug == spec["category"]), None)
    if category is None:
        raise Invalid({spec["setting"]: f"The site needs a {spec['category']} category for this service."})
    service = builtin_service(kind, ident, category, len(site.services))
    db.session.add(service)
    site.services.append(service)
    db.session.flush()
    audit_trail.record(actor, "service.create", site, after=service_state(service))
    return True


def _service_fields(site: Site, form: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": check_text(form.get("name"), "name", errors, max_length=200, required=True),
        "provider": check_text(form.get("provider"), "provider", errors, max_length=200),
        "category": _category_of(site, form.get("category"), errors),
    }
    texts = {}
    for language in site.languages:
        description = check_text(form.get(f"description_{language}"), f"description_{language}", errors, max_length=1000, multiline=True)
        if description:
            texts[language] = {"description": description}
    fields["texts"] = texts
    return fields


def add_service(site: Site, form: Mapping[str, Any], actor: str) -> Service:
    errors: dict[str, str] = {}
    fields = _service_fields(site, form, errors)
    key = (form.get("key") or "").strip().lower()
    if not key and fields["name"]:
        key = re.sub(r"[^a-z0-9]+", "_", fields["name"].lower()).strip("_")[:60]
        key = key if key and key[0].isalpha() else ("service_" + key)[:60]
    if not SERVICE_KEY.match(key):
        errors["key"] = "Lower-case letters, digits and _, starting with a letter (the name the decision API answers under)."
    elif key in BUILTIN_SERVICES or any(s.key == key for s in site.services):
        errors["key"] = "The site has a service with this key already."
    raise_if(errors)
    service = Service(
        key=key,
        kind="custom",
        name=fields["name"],
        provider=fields["provider"],
        category=fields["category"],
        settings={},
        texts=fields["texts"],
        position=len(site.services),
    )
    site.services.append(service)
    db.session.flush()
    audit_trail.record(actor, "service.create", site, after=service_state(service))
    return service


def update_service(service: Service, form: Mapping[str, Any], actor: str) -> bool:
    errors: dict[str, str] = {}
    site = service.site
    fields = _service_fields(site, form, errors)
    raise_if(errors)
    before = service_state(service)
    if service.kind == "custom":
        service.name = fields["name"]
    service.provider = fields["provider"]
    if service.kind == "custom":
        service.category = fields["category"]
    service.texts = fields["texts"]
    old, new = audit_trail.diff(before, service_state(service))
    if not new:
        return False
    audit_trail.record(actor, "service.update", site, before=old, after=new, service=service.key)
    return True


def delete_service(service: Service, actor: str) -> None:
    site = service.site
    before = service_state(service)
    site.services.remove(service)
    audit_trail.record(actor, "service.delete", site, before=before)


def _cookie_fields(service: Service, form: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = "Required."
    elif not COOKIE_NAME.match(name) or FORBIDDEN_CHARACTERS.search(name):
        errors["name"] = "A cookie name or pattern (such as _ga_*): no spaces, ; , or =."
    purposes = {}
    for language in service.site.languages:
        purpose = check_text(form.get(f"purpose_{language}"), f"purpose_{language}", errors, max_length=500, multiline=True)
        if purpose:
            purposes[language] = purpose
    return {
        "name": name,
        "provider": check_text(form.get("provider"), "provider", errors, max_length=200),
        "expiry_days": check_whole(form.get("expiry_days"), "expiry_days", errors, 0, 3650, optional=True),
        "purpose": purposes,
    }


def add_cookie(service: Service, form: Mapping[str, Any], actor: str) -> ServiceCookie:
    errors: dict[str, str] = {}
    fields = _cookie_fields(service, form, errors)
    if not errors and any(c.name == fields["name"] for c in service.cookies):
        errors["name"] = "This service declares this cookie already."
    raise_if(errors)
    cookie = ServiceCookie(**fields)
    service.cookies.append(cookie)
    db.session.flush()
    audit_trail.record(actor, "cookie.create", service.site, after=cookie_state(cookie), service=service.key)
    return cookie


def update_cookie(cookie: ServiceCookie, form: Mapping[str, Any], actor: str) -> bool:
    errors: dict[str, str] = {}
    service = cookie.service
    fields = _cookie_fields(service, form, errors)
    if not errors and any(c.name == fields["name"] and c is not cookie for c in service.cookies):
        errors["name"] = "This service declares this cookie already."
    raise_if(errors)
    before = cookie_state(cookie)
    for field, value in fields.items():
        setattr(cookie, field, value)
    old, new = audit_trail.diff(before, cookie_state(cookie))
    if not new:
        return False
    audit_trail.record(actor, "cookie.update", service.site, before=old, after=new, service=service.key, cookie=cookie.name)
    return True


def delete_cookie(cookie: ServiceCookie, actor: str) -> None:
    service = cookie.service
    before = cookie_state(cookie)
    service.cookies.remove(cookie)
    audit_trail.record(actor, "cookie.delete", service.site, before=before, service=service.key)
