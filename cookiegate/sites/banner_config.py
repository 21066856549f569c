"""The banner config a site serves: its texts (shipped in banner_texts/<lang>.json, under "banner",
overridden per site), categories, services with their cookies; the first layer's part of it;
and the hash that names a config's content in the consent records."""
from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from ..models import Site
from .colours import delivered

TEXTS_DIR = Path(__file__).parent / "banner_texts"
SHIPPED_LANGUAGES = ("da", "en")
FALLBACK_LANGUAGE = "en"
CONSENT_COOKIE = "cookiegate"


@lru_cache(maxsize=None)
def shipped_texts(language: str) -> dict[str, Any]:
    path = TEXTS_DIR / f"{language}.json"
    if language not in SHIPPED_LANGUAGES or not path.exists():
        return shipped_texts(FALLBACK_LANGUAGE)
    return json.loads(path.read_text(encoding="utf-8"))


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
    texts = dict(shipped["banner"])
    texts.update(site.texts.get(language, {}))
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
        "texts": texts,
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
