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

from sqlalchemy import func, select

from .. import audit_trail
from ..auth import users as user_rules
from ..errors import Invalid, raise_if
from ..extensions import db
from ..models import ApiToken, ConsentRecord, Site, User, utcnow
from ..sites import colours as colour_rules, site as site_rules
from ..sites.banner_config import shipped_texts
from ..sites.fields import check_text, check_whole

LIMITS = {
    "consent_lifetime_days": (1, 730),  # Danish guidance: ask again at least every 12 months; 2 years at most
    "retention_days": (1, 3650),
    "min_group_size": (1, 1000),
}
LONG_TEXTS = {"description", "gpc"}



def parse_origins(text: str) -> list[str]:
    """One origin a line (blank lines ignored), normalised and de-duplicated; Invalid names the bad line."""
    lines = [line.strip() for line in (text or "").splitlines()]
    for number, line in enumerate(lines, start=1):
        try:
            if line:
                site_rules.normalise_origin(line)
        except ValueError:
            raise Invalid({"origins": f"Line {number} is not an origin such as https://shop.example.dk (scheme and host, no path)."}) from None
    return site_rules.check_origins(line for line in lines if line)


def parse_languages(text: str) -> list[str]:
    return site_rules.check_languages(part for part in re.split(r"[\s,]+", (text or "").strip()) if part)


parse_policy_url = site_rules.check_policy_url


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
    """The console's new-site form: origins one a line; every other check is sites.site.create_site's."""
    try:
        origins = parse_origins(origins_text)
    except Invalid as error:
        # Nothing is created; the other fields are checked too, so the form shows every mistake.
        errors = dict(error.errors)
        for check, value in ((site_rules.check_name, name), (site_rules.check_policy_url, privacy_policy_url)):
            try:
                check(value)
            except Invalid as other:
                errors.update(other.errors)
        raise Invalid(errors) from None
    return site_rules.create_site(name, origins, privacy_policy_url=privacy_policy_url, actor=actor)


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
    raise_if(errors)
    return colours or {}


def update_site(site: Site, form: Mapping[str, Any], actor: str) -> bool:
    """Apply the settings form; True when something changed. The banner colours are recorded on
    their own (`site.banner_colours`, before/after), as the CLI's `banner-colours` does."""
    errors: dict[str, str] = {}
    colours = _colours(form, errors)
    name = check_text(form.get("name"), "name", errors, max_length=200, required=True)
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
        parsed[field] = check_whole(form.get(field), field, errors, low, high)
    parsed["floating_button"] = str(form.get("floating_button", "")).lower() in ("1", "y", "yes", "on", "true")
    timezone = (form.get("timezone") or "").strip()
    if timezone not in time_zones():
        errors["timezone"] = "Not a known time zone (such as Europe/Copenhagen)."
    parsed["timezone"] = timezone
    raise_if(errors)
    before = site_settings(site)
    for field, value in parsed.items():
        setattr(site, field, value)
    old, new = audit_trail.diff(before, site_settings(site))
    if new:
        audit_trail.record(actor, "site.update", site, before=old, after=new)
    recoloured = colours is not None and colours != (site.banner_colours or {})
    if recoloured:
        site_rules.set_banner_colours(site, colours, actor)
    return bool(new) or recoloured


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
    old, new = audit_trail.diff(before, draft)
    audit_trail.record(actor, "site.texts", site, before=old, after=new, language=language)
    return True


def draft_texts(site: Site, language: str, values: Mapping[str, Optional[str]]) -> dict[str, str]:
    """The overrides a texts form amounts to (validated, nothing applied): also what the preview shows."""
    if language not in site.languages:
        raise Invalid({"language": "Not one of the site's languages."})
    shipped = shipped_texts(language)["banner"]
    errors: dict[str, str] = {}
    draft: dict[str, str] = {}
    for key in shipped:
        if key not in values:
            current = site.texts.get(language, {}).get(key)
            if current:
                draft[key] = current
            continue
        long = key in LONG_TEXTS
        value = check_text(values.get(key), key, errors, max_length=2000 if long else 200, multiline=long)
        if value and value != shipped[key]:
            draft[key] = value
    raise_if(errors)
    return draft


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
    email, role, password = form.get("email") or "", form.get("role") or "", form.get("password") or ""
    errors = user_rules.new_user_problems(email, password, role)
    sites = _sites_by_key(site_keys, errors)
    raise_if(errors)
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
    raise_if(errors)
    before = user_state(user)
    user.role, user.active, user.sites = role, active, sites
    old, new = audit_trail.diff(before, user_state(user))
    if not new:
        return False
    audit_trail.record(actor, "user.update", before=old, after=new, email=user.email)
    # A new role or a deactivation ends the user's sessions; a deactivation revokes their tokens.
    user_rules.after_access_change(user, before, actor)
    return True


def create_token(user: User, actor: str, name: Optional[str] = None) -> str:
    """The token in the clear, once: only its hash is kept."""
    return user_rules.create_api_token(user, actor=actor, name=name)


def revoke_token(token: ApiToken, actor: str) -> bool:
    return user_rules.revoke_token(token, actor)
