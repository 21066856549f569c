"""The admin console (/admin/, admins only): sites and their banners, categories, services and
cookies, the policy version, users and API tokens, the consent log and the audit trail; and a
site's pre-consent audits, which the users with access to the site may read too.

Views parse the form and render; every change is a plain function in changes.py (validated,
applied, audited) and the view commits. The banner preview (preview.py) is a blueprint of its
own: it is framed by the console, so it cannot share the console's `frame-ancestors 'none'`.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, current_app, g, request
from flask_login import current_user

from ..web import html_area

TEXTS_DIR = Path(__file__).resolve().parent / "texts"

bp = html_area(
    Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates", static_folder="static", static_url_path="/static")
)


@lru_cache(maxsize=None)
def _texts(language: str) -> dict[str, str]:
    return json.loads((TEXTS_DIR / f"{language}.json").read_text(encoding="utf-8"))


def admin_text(key: str, default: Any = None, **values: Any) -> str:
    """The console's own texts (admin/texts/<lang>.json), in the language the base layout chose."""
    from ..i18n import ui_language

    text = _texts(ui_language()).get(key) or _texts("en").get(key) or (key if default is None else str(default))
    return text.format(**values) if values else text


@lru_cache(maxsize=None)
def _error_patterns(language: str) -> list[tuple["re.Pattern[str]", str]]:
    patterns = []
    for english, translated in _texts(language).get("errors", {}).items():
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(english))
        patterns.append((re.compile(regex + "$"), translated))
    return patterns


def error_text(message: str) -> str:
    """A field error from changes.py (English) in the page's language."""
    from ..i18n import ui_language

    for pattern, translated in _error_patterns(ui_language()):
        match = pattern.match(message)
        if match:
            return translated.format(**match.groupdict())
    return message


@bp.before_request
def _admins_only():
    # Static files of the console are public (a stylesheet and a script, no data).
    if request.endpoint == "admin.static":
        return None
    from ..auth.access import unauthorized

    if not current_user.is_authenticated:
        return unauthorized()
    g.actor = current_user.email
    if getattr(current_app.view_functions.get(request.endpoint), "open_to_site_users", False):
        return None  # the view's own site_access_required decides
    if not current_user.is_admin:
        abort(403)
    return None


def open_to_site_users(view):
    """A console page that the users with access to the site may read too (not only admins):
    site_access_required answers 403 for anyone else."""
    from ..auth.access import site_access_required

    wrapped = site_access_required(view)
    wrapped.open_to_site_users = True
    return wrapped


@bp.url_value_preprocessor
def _load_site(endpoint, values):
    key = (values or {}).get("site_key")
    if key is None:
        return
    from ..sites.site import get_site

    site = get_site(key)
    if site is None:
        abort(404)
    g.site = site


def init_app(app: Flask) -> None:
    from . import audit_trail_views, consent_log_views, people, preview, site_audit_views, views  # noqa: F401  (the routes)

    app.jinja_env.globals.update(a=admin_text, err=error_text)
    app.register_blueprint(bp)
    app.register_blueprint(preview.bp)
