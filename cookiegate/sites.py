"""Sites: creating them, their origins, and the public banner config they serve."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional
from urllib.parse import urlsplit

from sqlalchemy import select, update

from . import audit_trail
from .colours import delivered, validate_colours
from .extensions import db
from .models import STANDARD_CATEGORIES, Category, Service, ServiceCookie, Site

TEXTS_DIR = Path(__file__).parent / "texts"
SHIPPED_LANGUAGES = ("da", "en")
FALLBACK_LANGUAGE = "en"
SITE_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
CONSENT_COOKIE = "cookiegate"

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


@lru_cache(maxsize=None)
def shipped_texts(language: str) -> dict[str, Any]:
    path = TEXTS_DIR / f"{language}.json"
    if language not in SHIPPED_LANGUAGES or not path.exists():
        return shipped_texts(FALLBACK_LANGUAGE)
    return json.loads(path.read_text(encoding="utf-8"))


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


def builtin_service(kind: str, ident: str, category: Category, position: int) -> Service:
    spec = BUILTIN_SERVICES[kind]
    if not spec["pattern"].match(ident):
        raise ValueError(f"{ident!r} is not a valid {spec['setting'].replace('_', ' ')}")
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


def create_site(
    name: str,
    origins: Iterable[str],
    *,
    ga: Optional[str] = None,
    fb: Optional[str] = None,
    languages: Iterable[str] = SHIPPED_LANGUAGES,
    default_language: str = "da",
    privacy_policy_url: Optional[str] = None,
    key: Optional[str] = None,
    colours: Optional[dict[str, str]] = None,
    actor: str = "cli",
) -> Site:
    """A site with the three standard categories, and GA / Meta pixel services when given."""
    name = name.strip()
    if not name:
        raise ValueError("a site needs a name")
    normalised = sorted({normalise_origin(o) for o in origins})
    if not normalised:
        raise ValueError("a site needs at least one origin")
    languages = list(dict.fromkeys(languages))
    if default_language not in languages:
        raise ValueError("the default language must be one of the site's languages")
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
        banner_colours=validate_colours(colours),
        log_seq=0,
        log_head="",
    )
    site.categories = [
        Category(slug=slug, required=(slug == "necessary"), position=i, texts={})
        for i, slug in enumerate(STANDARD_CATEGORIES)
    ]
    by_slug = {c.slug: c for c in site.categories}
    services = []
    for kind, ident in (("google_analytics", ga), ("facebook_pixel", fb)):
        if ident:
            category = by_slug[BUILTIN_SERVICES[kind]["category"]]
            services.append(builtin_service(kind, ident.strip(), category, len(services)))
    site.services = services
    db.session.add(site)
    db.session.flush()
    audit_trail.record(actor, "site.create", site=site, name=name, origins=normalised)
    return site


def set_banner_colours(site: Site, colours: Optional[dict[str, str]], actor: str = "cli") -> dict[str, str]:
    """Validated (ValueError otherwise) and stored; the config carries them once the site snapshot refreshes."""
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


def choose_language(site: Site, requested: Optional[str]) -> str:
    """The first requested language the site has (`da-DK` matches `da`), else the site default.

    `requested` may be a comma-separated list in order of preference (the banner sends data-lang,
    <html lang> and the browser's languages at once, so it needs one request, not two)."""
    for wanted in (requested or "").lower().split(","):
        wanted = wanted.strip()
        for candidate in (wanted, wanted.split("-")[0]):
            if candidate and candidate in site.languages:
                return candidate
    return site.default_language


def format_duration(days: Optional[int], words: dict[str, str]) -> str:
    if days is None:
        return words["session"]
    for unit, size in (("year", 365), ("month", 30)):
        if days >= size and days % size == 0:
            n = days // size
            return words[unit] if n == 1 else words[unit + "s"].format(n=n)
    return words["day"] if days == 1 else words["days"].format(n=days)


def _shipped_purpose(shipped: dict[str, Any], name: str) -> str:
    """The shipped purpose of a cookie; GA4's _ga_<container-id> is declared with the real id."""
    cookies = shipped["cookies"]
    if name not in cookies and re.match(r"^_ga_[A-Z0-9]+$", name):
        name = "_ga_<container-id>"
    return cookies.get(name, "")


def _cookie_entry(name: str, provider: str, purpose: str, expiry: str) -> dict[str, str]:
    return {"name": name, "provider": provider, "purpose": purpose, "expiry": expiry}


def public_config(site: Site, language: str) -> dict[str, Any]:
    """The banner config for one language: texts, categories, services with their cookies.

    Its content_hash() names exactly this content; a consent record keeps that hash
    as proof of what the visitor was shown (the content itself is stored once per hash).
    """
    shipped = shipped_texts(language)
    ui = dict(shipped["ui"])
    ui.update(site.texts.get(language, {}))
    categories = []
    for category in site.categories:
        defaults = shipped["categories"].get(category.slug, {"name": category.slug, "description": ""})
        own = category.texts.get(language, {})
        categories.append(
            {
                "slug": category.slug,
                "name": own.get("name") or defaults["name"],
                "description": own.get("description") or defaults["description"],
                "required": category.required,
            }
        )
    durations = shipped["duration"]
    necessary_cookie = _cookie_entry(
        CONSENT_COOKIE, site.name, shipped["cookies"][CONSENT_COOKIE], format_duration(site.consent_lifetime_days, durations)
    )
    services = []
    for service in site.services:
        description = service.texts.get(language, {}).get("description") or shipped["services"].get(service.kind, "")
        services.append(
            {
                "key": service.key,
                "kind": service.kind,
                "name": service.name,
                "provider": service.provider,
                "category": service.category.slug,
                "description": description,
                "settings": service.settings,
                "cookies": [
                    _cookie_entry(
                        c.name,
                        c.provider or service.provider,
                        c.purpose.get(language) or _shipped_purpose(shipped, c.name),
                        format_duration(c.expiry_days, durations),
                    )
                    for c in service.cookies
                ],
            }
        )
    config = {
        "site": site.key,
        "policy_version": site.policy_version,
        "lifetime_days": site.consent_lifetime_days,
        "language": language,
        "languages": site.languages,
        "texts": ui,
        "privacy_policy_url": site.privacy_policy_url,
        "floating_button": site.floating_button,
        "colours": delivered(site.banner_colours or {}),
        "categories": categories,
        "services": services,
        "necessary_cookies": [necessary_cookie],
    }
    return config


# The first layer's texts; the settings' texts come with the whole config when they are opened.
FIRST_LAYER_TEXTS = ("title", "description", "accept_all", "reject_all", "customise", "privacy_policy", "gpc", "open")


def first_layer(config: dict[str, Any]) -> dict[str, Any]:
    """`config?layer=first`: the part of the config a first-time visitor needs (about half of it).

    Categories without their texts, services with only what releasing and deleting need (their kind,
    category, settings and cookie names), the first layer's texts. The banner fetches the whole config
    when the visitor opens the settings.
    """
    first = {k: v for k, v in config.items() if k not in ("site", "languages", "texts", "categories", "services", "necessary_cookies")}
    first["texts"] = {k: config["texts"][k] for k in FIRST_LAYER_TEXTS}
    first["categories"] = [{"slug": c["slug"], "required": c["required"]} for c in config["categories"]]
    first["services"] = [
        {"kind": s["kind"], "category": s["category"], "settings": s["settings"], "cookies": [c["name"] for c in s["cookies"]]}
        for s in config["services"]
    ]
    return first


def content_hash(content: Any) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
