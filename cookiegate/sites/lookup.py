"""Which site a request is about: `<site_key>` in the URL becomes `g.site` (a SiteState).

Registered as a url_value_preprocessor on every blueprint whose routes carry a
site key, so an unknown key is answered (404 `unknown_site`) before any view runs.
The lookup reads this process's site snapshots, not the database.
"""
from __future__ import annotations

from typing import Any, Optional

from flask import Blueprint, g

from ..errors import ApiError
from .cache import process_state


def resolve(endpoint: Optional[str], values: Optional[dict[str, Any]]) -> None:
    key = (values or {}).get("site_key")
    if key is None:
        return
    state = process_state().sites.get(key)
    if state is None:
        raise ApiError(404, "unknown_site", "No site has this key.")
    g.site = state


def register(bp: Blueprint) -> None:
    bp.url_value_preprocessor(resolve)
