"""A site: its key, name, origins and languages, its banner colours and policy version; created,
found and changed here (the caller commits)."""
from __future__ import annotations

import re
import secrets
from typing import Iterable, Optional
from urllib.parse import urlsplit

from sqlalchemy import select, update

from .. import audit_trail
from ..extensions import db
from ..models import STANDARD_CATEGORIES, Category, Site
from .banner_config import SHIPPED_LANGUAGES
from .catalogue import BUILTIN_SERVICES, builtin_service
from .colours import validate_colours

SITE_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
LANGUAGE_PATTERN = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
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


