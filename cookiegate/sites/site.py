"""A site: its key, name, origins and languages, its banner colours and policy version; created,
found and changed here (the caller commits)."""
from __future__ import annotations

import re
import secrets
from typing import Any, Callable, Iterable, Optional
from urllib.parse import urlsplit

from sqlalchemy import select, update

from .. import audit_trail
from ..errors import Invalid, raise_if
from ..extensions import db
from ..infra.request_checks import FORBIDDEN_CHARACTERS
from ..models import STANDARD_CATEGORIES, Category, Site
from .banner_config import SHIPPED_LANGUAGES
from .catalogue import BUILTIN_SERVICES, builtin_service, ident_problem
from .colours import validate_colours

SITE_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
MAX_NAME = 200
MAX_ORIGINS = 50
MAX_LANGUAGES = 12
SITE_KEY_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_site_key() -> str:
    """16 letters and digits (about 93 bits): never starts with '-', so it is safe as a CLI argument."""
    return "".join(secrets.choice(SITE_KEY_ALPHABET) for _ in range(16))


def normalise_origin(origin: str) -> str:
    """`https://Shop.Example.dk/` -> `https://shop.example.dk`; raises ValueError for anything else."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) origin: {origin!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"an origin has no path, query or credentials: {origin!r}")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    port = parts.port
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def check_name(name: Optional[str]) -> str:
    name = (name or "").strip()
    if not name:
        raise Invalid({"name": "Required."})
    if len(name) > MAX_NAME:
        raise Invalid({"name": f"At most {MAX_NAME} characters."})
    if FORBIDDEN_CHARACTERS.search(name):
        raise Invalid({"name": "Contains control characters."})
    return name


def check_origins(origins: Iterable[str]) -> list[str]:
    """Normalised and de-duplicated, in the order given."""
    normalised: list[str] = []
    for origin in origins:
        try:
            origin = normalise_origin(origin)
        except ValueError:
            raise Invalid({"origins": f"{origin.strip()[:200]!r} is not an origin such as https://shop.example.dk (scheme and host, no path)."}) from None
        if origin not in normalised:
            normalised.append(origin)
    if not normalised:
        raise Invalid({"origins": "At least one origin is required."})
    if len(normalised) > MAX_ORIGINS:
        raise Invalid({"origins": f"At most {MAX_ORIGINS} origins."})
    return normalised


def check_languages(codes: Iterable[str]) -> list[str]:
    """Language codes such as da, en or pt-BR, lower-cased and de-duplicated, in the order given."""
    languages: list[str] = []
    for code in codes:
        code = (code or "").strip()
        if not LANGUAGE_PATTERN.match(code) or len(code) > 16:
            raise Invalid({"languages": "Languages are codes such as da or en, separated by commas."})
        if code.lower() not in languages:
            languages.append(code.lower())
    if not languages:
        raise Invalid({"languages": "At least one language is required."})
    if len(languages) > MAX_LANGUAGES:
        raise Invalid({"languages": f"At most {MAX_LANGUAGES} languages."})
    return languages


def check_policy_url(text: Optional[str]) -> Optional[str]:
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


def _checked(errors: dict[str, str], check: Callable[..., Any], *args: Any) -> Any:
    """check(*args), its Invalid's fields added to `errors` (None then), so one answer names every field."""
    try:
        return check(*args)
    except Invalid as error:
        errors.update(error.errors)
        return None


def create_site(
    name: str,
    origins: Iterable[str],
    *,
    ga: Optional[str] = None,
    fb: Optional[str] = None,
    languages: Iterable[str] = SHIPPED_LANGUAGES,
    default_language: Optional[str] = None,
    privacy_policy_url: Optional[str] = None,
    key: Optional[str] = None,
    colours: Optional[dict[str, str]] = None,
    actor: str = "cli",
) -> Site:
    """A site with the three standard categories, and GA / Meta pixel services when given; every
    value is checked here (Invalid names each wrong field) for the console, the command line and
    the demo alike. The caller commits."""
    errors: dict[str, str] = {}
    name = _checked(errors, check_name, name)
    normalised = sorted(_checked(errors, check_origins, origins) or [])
    languages = _checked(errors, check_languages, languages) or []
    default_language = (default_language or (languages[0] if languages else "")).lower()
    if languages and default_language not in languages:
        errors["default_language"] = "Must be one of the site's languages."
    privacy_policy_url = _checked(errors, check_policy_url, privacy_policy_url)
    banner_colours = _checked(errors, validate_colours, colours)
    idents = {"google_analytics": (ga or "").strip(), "facebook_pixel": (fb or "").strip()}
    for kind, field in (("google_analytics", "ga"), ("facebook_pixel", "fb")):
        problem = idents[kind] and ident_problem(kind, idents[kind])
        if problem:
            errors[field] = problem
    raise_if(errors)
    site = Site(
        key=key or new_site_key(),
        name=name,
        origins=normalised,
        languages=languages,
        default_language=default_language,
        privacy_policy_url=privacy_policy_url,
        texts={},
        policy_version=1,
        consent_lifetime_days=365,
        retention_days=730,
        min_group_size=5,
        floating_button=True,
        banner_colours=banner_colours,
        log_seq=0,
        log_head="",
    )
    site.categories = [
        Category(slug=slug, required=(slug == "necessary"), position=i, texts={})
        for i, slug in enumerate(STANDARD_CATEGORIES)
    ]
    by_slug = {c.slug: c for c in site.categories}
    services = []
    for kind, ident in idents.items():
        if ident:
            category = by_slug[BUILTIN_SERVICES[kind]["category"]]
            services.append(builtin_service(kind, ident, category, len(services)))
    site.services = services
    db.session.add(site)
    db.session.flush()
    audit_trail.record(actor, "site.create", site=site, name=name, origins=normalised)
    return site


def set_banner_colours(site: Site, colours: Optional[dict[str, str]], actor: str = "cli") -> dict[str, str]:
    """Validated (Invalid otherwise) and stored; the config carries them once the site snapshot refreshes."""
    before = dict(site.banner_colours or {})
    site.banner_colours = validate_colours(colours)
    audit_trail.record(actor, "site.banner_colours", site=site, before={"colours": before}, after={"colours": site.banner_colours})
    return site.banner_colours


def bump_policy(site: Site, actor: str = "cli") -> int:
    """Raise the policy version atomically; every visitor is asked again."""
    new_version = db.session.execute(
        update(Site).where(Site.id == site.id).values(policy_version=Site.policy_version + 1).returning(Site.policy_version)
    ).scalar_one()
    # policy_version: the new version, as the admin console's trail reads it; before/after for its diff view.
    audit_trail.record(actor, "site.bump_policy", site=site, before={"policy_version": new_version - 1}, after={"policy_version": new_version},
                       policy_version=new_version)
    return new_version


def get_site(key: str) -> Optional[Site]:
    if not SITE_KEY_PATTERN.match(key or ""):
        return None
    return db.session.execute(select(Site).where(Site.key == key)).scalar_one_or_none()


