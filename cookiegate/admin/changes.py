"""Every change the admin console makes, as plain functions: validate, apply, audit.

Each function either applies the whole change (and records it in the audit trail with what
it was before and after) or raises Invalid naming the fields that are wrong, applying nothing.
None of them commits: the view that calls it owns the transaction.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from functools import lru_cache
from typing import Any, Iterable, Mapping, Optional
from urllib.parse import urlsplit

from sqlalchemy import func, select

from .. import colours as colour_rules, sites as site_rules, users as user_rules
from ..extensions import db
from ..models import ApiToken, Category, ConsentRecord, Service, ServiceCookie, Site, User, utcnow
from ..sites import BUILTIN_SERVICES, LANGUAGE_PATTERN, normalise_origin, shipped_texts
from ..validation import FORBIDDEN_CHARACTERS
from . import audit

MAX_ORIGINS = 50
MAX_LANGUAGES = 12
LIMITS = {
    "consent_lifetime_days": (1, 730),  # Danish guidance: ask again at least every 12 months; 2 years at most
    "retention_days": (1, 3650),
    "min_group_size": (1, 1000),
}
SLUG = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SERVICE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
# Declared cookie names are shown, never set: printable, no separators; `*` marks a pattern (`_ga_*`).
COOKIE_NAME = re.compile(r"^[^\s;,=]{1,200}$")
# Line breaks are fine in texts; other control characters are not.
TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
LONG_TEXTS = {"description", "gpc"}


class Invalid(ValueError):
    """What is wrong, per form field: {field: message}."""

    def __init__(self, errors: Mapping[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise Invalid(errors)


def _text(value: Optional[str], field: str, errors: dict[str, str], *, max_length: int, required: bool = False, multiline: bool = False) -> str:
    value = (value or "").strip()
    if multiline:
        value = value.replace("\r\n", "\n")
    if required and not value:
        errors[field] = "Required."
    elif len(value) > max_length:
        errors[field] = f"At most {max_length} characters."
    elif (TEXT_FORBIDDEN if multiline else FORBIDDEN_CHARACTERS).search(value):
        errors[field] = "Contains control characters."
    return value


def _whole(value: Any, field: str, errors: dict[str, str], low: int, high: int, *, optional: bool = False) -> Optional[int]:
    raw = "" if value is None else str(value).strip()
    if not raw and optional:
        return None
    try:
        number = int(raw)
    except ValueError:
        errors[field] = "A whole number is required."
        return None
    if not low <= number <= high:
        errors[field] = f"Between {low} and {high}."
        return None
    return number


def parse_origins(text: str) -> list[str]:
    """One origin a line (blank lines ignored), normalised and de-duplicated; Invalid names the bad line."""
    lines = [line.strip() for line in (text or "").splitlines()]
    origins: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        try:
            origin = normalise_origin(line)
        except ValueError:
            raise Invalid({"origins": f"Line {number} is not an origin such as https://shop.example.dk (scheme and host, no path)."}) from None
        if origin not in origins:
            origins.append(origin)
    if not origins:
        raise Invalid({"origins": "At least one origin is required."})
    if len(origins) > MAX_ORIGINS:
        raise Invalid({"origins": f"At most {MAX_ORIGINS} origins."})
    return origins


def parse_languages(text: str) -> list[str]:
    languages: list[str] = []
    for part in re.split(r"[\s,]+", (text or "").strip()):
        if not part:
            continue
        if not LANGUAGE_PATTERN.match(part) or len(part) > 16:
            raise Invalid({"languages": "Languages are codes such as da or en, separated by commas."})
        part = part.lower()
        if part not in languages:
            languages.append(part)
    if not languages:
        raise Invalid({"languages": "At least one language is required."})
    if len(languages) > MAX_LANGUAGES:
        raise Invalid({"languages": f"At most {MAX_LANGUAGES} languages."})
    return languages


def parse_policy_url(text: Optional[str]) -> Optional[str]:
    """An http(s) URL or None; anything else (javascript:, data:, relative) is refused."""
    value = (text or "").strip()
    if not value:
        return None
    if len(value) > 2048 or FORBIDDEN_CHARACTERS.search(value) or re.search(r"\s", value):
        raise Invalid({"privacy_policy_url": "Not a valid URL."})
    try:
        parts = urlsplit(value)
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises ValueError here
    except ValueError:
        raise Invalid({"privacy_policy_url": "Not a valid URL."}) from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise Invalid({"privacy_policy_url": "Only http:// and https:// addresses are allowed."})
    return value


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


# ---------------------------------------------------------------- sites


def site_settings(site: Site) -> dict[str, Any]:
    """The editable settings of a site, as the audit trail records them."""
    settings = {
        "name": site.name,
        "origins": list(site.origins),
        "languages": list(site.languages),
        "default_language": site.default_language,
        "consent_lifetime_days": site.consent_lifetime_days,
        "retention_days": site.retention_days,
        "min_group_size": site.min_group_size,
        "floating_button": site.floating_button,
        "privacy_policy_url": site.privacy_policy_url,
        "timezone": site.timezone,
    }
    return settings


def create_site(name: str, origins_text: str, actor: str, *, privacy_policy_url: str = "") -> Site:
    errors: dict[str, str] = {}
    name = _text(name, "name", errors, max_length=200, required=True)
    origins: list[str] = []
    try:
        origins = parse_origins(origins_text)
    except Invalid as error:
        errors.update(error.errors)
    policy_url = None
    try:
        policy_url = parse_policy_url(privacy_policy_url)
    except Invalid as error:
        errors.update(error.errors)
    _raise_if(errors)
    site = site_rules.create_site(name, origins, privacy_policy_url=policy_url, actor=actor)
    return site


COLOUR_FIELDS = {key: f"colour_{key}" for key in colour_rules.KEYS}


def _colours(form: Mapping[str, Any], errors: dict[str, str]) -> Optional[dict[str, str]]:
    """The banner colours of a settings form (an empty field means the banner's default), each
    error next to its field: a colour that is not #rgb/#rrggbb, or text or an accent too faint on
    the background (WCAG AA, as colours.validate_colours). None when the form has no colour
    fields at all (then the colours are left as they are)."""
    if not any(name in form for name in COLOUR_FIELDS.values()):
        return None
    given: dict[str, str] = {}
    for key, name in COLOUR_FIELDS.items():
        value = str(form.get(name) or "").strip()
        if not value:
            continue
        if not colour_rules.HEX.match(value):
            errors[name] = "A colour such as #0b4f8a (#rgb or #rrggbb)."
            continue
        given[key] = colour_rules.expand(value)
    if any(name in errors for name in COLOUR_FIELDS.values()):
        return None
    scheme = {**colour_rules.DEFAULTS, **given}
    for key in ("text", "accent"):
        ratio = colour_rules.contrast(scheme[key], scheme["background"])
        if ratio < colour_rules.MIN_CONTRAST:
            # Next to the field that was given (the background when only it was).
            name = COLOUR_FIELDS[key] if key in given or "background" not in given else COLOUR_FIELDS["background"]
            errors.setdefault(name, f"Hard to read on the background: contrast {ratio:.1f}:1, at least {colour_rules.MIN_CONTRAST}:1.")
    return None if errors else colour_rules.validate_colours(given)


def draft_colours(form: Mapping[str, Any]) -> dict[str, str]:
    """The colours a settings form amounts to (validated, nothing applied): what the preview shows."""
    errors: dict[str, str] = {}
    colours = _colours(form, errors)
    _raise_if(errors)
    return colours or {}


def update_site(site: Site, form: Mapping[str, Any], actor: str) -> bool:
    """Apply the settings form; True when something changed. The banner colours are recorded on
    their own (`site.banner_colours`, before/after), as the CLI's `banner-colours` does."""
    errors: dict[str, str] = {}
    colours = _colours(form, errors)
    name = _text(form.get("name"), "name", errors, max_length=200, required=True)
    parsed: dict[str, Any] = {"name": name}
    for field, parser in (("origins", parse_origins), ("languages", parse_languages), ("privacy_policy_url", parse_policy_url)):
        try:
            parsed[field] = parser(form.get(field) or "")
        except Invalid as error:
            errors.update(error.errors)
    default_language = (form.get("default_language") or "").strip().lower()
    if "languages" in parsed:
        if not default_language:
            default_language = parsed["languages"][0]
        if default_language not in parsed["languages"]:
            errors["default_language"] = "Must be one of the site's languages."
    parsed["default_language"] = default_language
    for field, (low, high) in LIMITS.items():
        parsed[field] = _whole(form.get(field), field, errors, low, high)
    parsed["floating_button"] = str(form.get("floating_button", "")).lower() in ("1", "y", "yes", "on", "true")
    timezone = (form.get("timezone") or "").strip()
    if timezone not in time_zones():
        errors["timezone"] = "Not a known time zone (such as Europe/Copenhagen)."
    parsed["timezone"] = timezone
    _raise_if(errors)
    before = site_settings(site)
    for field, value in parsed.items():
        setattr(site, field, value)
    old, new = audit.diff(before, site_settings(site))
    if new:
        audit.record(actor, "site.update", site, before=old, after=new)
    recoloured = colours is not None and colours != (site.banner_colours or {})
    if recoloured:
        site_rules.set_banner_colours(site, colours, actor)
    return bool(new) or recoloured


def ui_text_keys() -> list[str]:
    return list(shipped_texts("en")["ui"])


def set_texts(site: Site, language: str, values: Mapping[str, Optional[str]], actor: str) -> bool:
    """The banner texts of one language. An empty text, or the shipped one, means the default."""
    draft = draft_texts(site, language, values)
    before = dict(site.texts.get(language, {}))
    if draft == before:
        return False
    texts = {lang: dict(t) for lang, t in site.texts.items() if lang != language}
    if draft:
        texts[language] = draft
    site.texts = texts  # a new object, so the JSON column is written
    old, new = audit.diff(before, draft)
    audit.record(actor, "site.texts", site, before=old, after=new, language=language)
    return True


def draft_texts(site: Site, language: str, values: Mapping[str, Optional[str]]) -> dict[str, str]:
    """The overrides a texts form amounts to (validated, nothing applied): also what the preview shows."""
    if language not in site.languages:
        raise Invalid({"language": "Not one of the site's languages."})
    shipped = shipped_texts(language)["ui"]
    errors: dict[str, str] = {}
    draft: dict[str, str] = {}
    for key in shipped:
        if key not in values:
            current = site.texts.get(language, {}).get(key)
            if current:
                draft[key] = current
            continue
        long = key in LONG_TEXTS
        value = _text(values.get(key), key, errors, max_length=2000 if long else 200, multiline=long)
        if value and value != shipped[key]:
            draft[key] = value
    _raise_if(errors)
    return draft


# ---------------------------------------------------------------- categories


def _category_texts(form: Mapping[str, Any], languages: Iterable[str], errors: dict[str, str]) -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for language in languages:
        name = _text(form.get(f"name_{language}"), f"name_{language}", errors, max_length=100)
        description = _text(form.get(f"description_{language}"), f"description_{language}", errors, max_length=1000, multiline=True)
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
    _raise_if(errors)
    category = Category(slug=slug, required=False, position=len(site.categories), texts=texts)
    site.categories.append(category)
    db.session.flush()
    audit.record(actor, "category.create", site, after=category_state(category))
    return category


def update_category(category: Category, form: Mapping[str, Any], actor: str) -> bool:
    errors: dict[str, str] = {}
    texts = _category_texts(form, category.site.languages, errors)
    _raise_if(errors)
    if texts == category.texts:
        return False
    before = category_state(category)
    category.texts = texts
    old, new = audit.diff(before, category_state(category))
    audit.record(actor, "category.update", category.site, before=old, after=new, slug=category.slug)
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
    audit.record(actor, "category.delete", site, before=before)


# ---------------------------------------------------------------- services and cookies


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
    # As sites.builtin_service names them.
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
        audit.record(actor, "service.delete", site, before=before)
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
        old, new = audit.diff(before, service_state(existing))
        audit.record(actor, "service.update", site, before=old, after=new, service=kind)
        return True
    category = next((c for c in site.categories if c.slug == spec["category"]), None)
    if category is None:
        raise Invalid({spec["setting"]: f"The site needs a {spec['category']} category for this service."})
    service = site_rules.builtin_service(kind, ident, category, len(site.services))
    db.session.add(service)
    site.services.append(service)
    db.session.flush()
    audit.record(actor, "service.create", site, after=service_state(service))
    return True


def _service_fields(site: Site, form: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": _text(form.get("name"), "name", errors, max_length=200, required=True),
        "provider": _text(form.get("provider"), "provider", errors, max_length=200),
        "category": _category_of(site, form.get("category"), errors),
    }
    texts = {}
    for language in site.languages:
        description = _text(form.get(f"description_{language}"), f"description_{language}", errors, max_length=1000, multiline=True)
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
    _raise_if(errors)
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
    audit.record(actor, "service.create", site, after=service_state(service))
    return service


def update_service(service: Service, form: Mapping[str, Any], actor: str) -> bool:
    errors: dict[str, str] = {}
    site = service.site
    fields = _service_fields(site, form, errors)
    _raise_if(errors)
    before = service_state(service)
    if service.kind == "custom":
        service.name = fields["name"]
    service.provider = fields["provider"]
    if service.kind == "custom":
        service.category = fields["category"]
    service.texts = fields["texts"]
    old, new = audit.diff(before, service_state(service))
    if not new:
        return False
    audit.record(actor, "service.update", site, before=old, after=new, service=service.key)
    return True


def delete_service(service: Service, actor: str) -> None:
    site = service.site
    before = service_state(service)
    site.services.remove(service)
    audit.record(actor, "service.delete", site, before=before)


def _cookie_fields(service: Service, form: Mapping[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    name = (form.get("name") or "").strip()
    if not name:
        errors["name"] = "Required."
    elif not COOKIE_NAME.match(name) or FORBIDDEN_CHARACTERS.search(name):
        errors["name"] = "A cookie name or pattern (such as _ga_*): no spaces, ; , or =."
    purposes = {}
    for language in service.site.languages:
        purpose = _text(form.get(f"purpose_{language}"), f"purpose_{language}", errors, max_length=500, multiline=True)
        if purpose:
            purposes[language] = purpose
    return {
        "name": name,
        "provider": _text(form.get("provider"), "provider", errors, max_length=200),
        "expiry_days": _whole(form.get("expiry_days"), "expiry_days", errors, 0, 3650, optional=True),
        "purpose": purposes,
    }


def add_cookie(service: Service, form: Mapping[str, Any], actor: str) -> ServiceCookie:
    errors: dict[str, str] = {}
    fields = _cookie_fields(service, form, errors)
    if not errors and any(c.name == fields["name"] for c in service.cookies):
        errors["name"] = "This service declares this cookie already."
    _raise_if(errors)
    cookie = ServiceCookie(**fields)
    service.cookies.append(cookie)
    db.session.flush()
    audit.record(actor, "cookie.create", service.site, after=cookie_state(cookie), service=service.key)
    return cookie


def update_cookie(cookie: ServiceCookie, form: Mapping[str, Any], actor: str) -> bool:
    errors: dict[str, str] = {}
    service = cookie.service
    fields = _cookie_fields(service, form, errors)
    if not errors and any(c.name == fields["name"] and c is not cookie for c in service.cookies):
        errors["name"] = "This service declares this cookie already."
    _raise_if(errors)
    before = cookie_state(cookie)
    for field, value in fields.items():
        setattr(cookie, field, value)
    old, new = audit.diff(before, cookie_state(cookie))
    if not new:
        return False
    audit.record(actor, "cookie.update", service.site, before=old, after=new, service=service.key, cookie=cookie.name)
    return True


def delete_cookie(cookie: ServiceCookie, actor: str) -> None:
    service = cookie.service
    before = cookie_state(cookie)
    service.cookies.remove(cookie)
    audit.record(actor, "cookie.delete", service.site, before=before, service=service.key)


# ---------------------------------------------------------------- policy


def visitors_asked_again(site: Site, now: Optional[dt.datetime] = None) -> int:
    """How many visitors hold a consent that a policy bump would ask again: consent ids whose latest
    record is a choice (not a withdrawal; erased records hold no choice) on the current version within
    the consent lifetime. Bots are left out, as in the statistics."""
    now = now or utcnow()
    since = now - dt.timedelta(days=site.consent_lifetime_days)
    latest = (
        select(ConsentRecord.consent_id, func.max(ConsentRecord.seq).label("seq"))
        .where(ConsentRecord.site_id == site.id, ConsentRecord.created_at >= since, ConsentRecord.consent_id.is_not(None))
        .group_by(ConsentRecord.consent_id)
        .subquery()
    )
    query = (
        select(func.count())
        .select_from(ConsentRecord)
        .join(latest, (ConsentRecord.consent_id == latest.c.consent_id) & (ConsentRecord.seq == latest.c.seq))
        .where(
            ConsentRecord.site_id == site.id,
            ConsentRecord.policy_version == site.policy_version,
            ConsentRecord.method.in_(("accept_all", "reject_all", "custom")),
            ConsentRecord.is_bot.is_(False),
        )
    )
    return db.session.execute(query).scalar_one()


def bump_policy(site: Site, actor: str, expected_version: Optional[int] = None) -> int:
    """Raise the policy version; refused when someone bumped it since the confirmation page was shown."""
    if expected_version is not None and expected_version != site.policy_version:
        raise Invalid({"policy_version": f"The policy is at version {site.policy_version} now; review and confirm again."})
    version = site_rules.bump_policy(site, actor=actor)  # audited there, as from the command line
    db.session.refresh(site)
    return version


# ---------------------------------------------------------------- users and tokens


def user_state(user: User) -> dict[str, Any]:
    return {"email": user.email, "role": user.role, "active": user.active, "sites": sorted(s.key for s in user.sites)}


def _sites_by_key(keys: Iterable[str], errors: dict[str, str]) -> list[Site]:
    keys = [k for k in dict.fromkeys(keys) if k]
    found = list(db.session.execute(select(Site).where(Site.key.in_(keys))).scalars()) if keys else []
    if len(found) != len(keys):
        errors["sites"] = "Unknown site."
    return found


def create_user(form: Mapping[str, Any], site_keys: Iterable[str], actor: str) -> User:
    errors: dict[str, str] = {}
    email = (form.get("email") or "").strip().lower()
    role = form.get("role") or ""
    password = form.get("password") or ""
    if not user_rules.EMAIL_PATTERN.match(email):
        errors["email"] = "Not an e-mail address."
    elif user_rules.get_user(email) is not None:
        errors["email"] = "A user with this address exists already."
    if role not in user_rules.ROLES:
        errors["role"] = "Choose admin or marketer."
    if len(password) < user_rules.MIN_PASSWORD_LENGTH:
        errors["password"] = f"At least {user_rules.MIN_PASSWORD_LENGTH} characters."
    sites = _sites_by_key(site_keys, errors)
    _raise_if(errors)
    user = user_rules.create_user(email, password, role, sites, actor=actor)
    db.session.flush()
    return user


def update_user(user: User, form: Mapping[str, Any], site_keys: Iterable[str], actor: str, acting_user: Optional[User] = None) -> bool:
    errors: dict[str, str] = {}
    role = form.get("role") or ""
    active = str(form.get("active", "")).lower() in ("1", "y", "yes", "on", "true")
    if role not in user_rules.ROLES:
        errors["role"] = "Choose admin or marketer."
    if acting_user is not None and user.id == acting_user.id and (role != "admin" or not active):
        errors["role"] = "You cannot remove your own admin access; ask another admin."
    sites = _sites_by_key(site_keys, errors)
    _raise_if(errors)
    before = user_state(user)
    user.role, user.active, user.sites = role, active, sites
    old, new = audit.diff(before, user_state(user))
    if not new:
        return False
    audit.record(actor, "user.update", before=old, after=new, email=user.email)
    # A new role or a deactivation ends the user's sessions; a deactivation revokes their tokens.
    user_rules.after_access_change(user, before, actor)
    return True


def create_token(user: User, actor: str, name: Optional[str] = None) -> str:
    """The token in the clear, once: only its hash is kept."""
    return user_rules.create_api_token(user, actor=actor, name=name)


def revoke_token(token: ApiToken, actor: str) -> bool:
    return user_rules.revoke_token(token, actor)
