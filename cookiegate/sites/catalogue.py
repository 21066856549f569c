"""The catalogue of what a banner can release: the built-in services (Google Analytics, the Meta
pixel) with the first-party cookies they set. A site's own categories, services and cookies are
rows of models.py, changed through the console (admin/changes.py)."""
from __future__ import annotations

import re
from typing import Any

from ..models import Category, Service, ServiceCookie

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
