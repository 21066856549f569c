"""The language of the pages people log in to (Danish and English), and number formats.

The language of a request: `?lang=`, else the logged-in user's setting, else the browser's
Accept-Language, else Danish. Texts live in one file per language (page_texts/<lang>.json).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Optional

from flask import request

LANGUAGES = ("da", "en")
DEFAULT_LANGUAGE = "da"
TEXTS_DIR = Path(__file__).resolve().parent / "page_texts"


@functools.lru_cache(maxsize=None)
def texts(language: str) -> dict[str, str]:
    return json.loads((TEXTS_DIR / f"{language}.json").read_text(encoding="utf-8"))


def choose(requested: Optional[str], user_setting: Optional[str], accept_language) -> str:
    if requested in LANGUAGES:
        return requested  # type: ignore[return-value]
    if user_setting in LANGUAGES:
        return user_setting  # type: ignore[return-value]
    if accept_language is not None:
        best = accept_language.best_match(LANGUAGES)
        if best:
            return best
    return DEFAULT_LANGUAGE


def requested_language() -> Optional[str]:
    value = request.args.get("lang")
    return value if value in LANGUAGES else None


def ui_language() -> str:
    # Kept on the request itself (an app context, and so `g`, can outlive a request in tests).
    cached = request.environ.get("cookiegate.ui_language")
    if cached is None:
        from flask_login import current_user

        setting = getattr(current_user, "language", None) if current_user and current_user.is_authenticated else None
        cached = request.environ["cookiegate.ui_language"] = choose(requested_language(), setting, request.accept_languages)
    return cached


def translate(key: str, default: Optional[str] = None, **values: Any) -> str:
    language = ui_language()
    text = texts(language).get(key) or texts("en").get(key) or (key if default is None else str(default))
    return text.format(**values) if values else text


def lang_query(language: str) -> str:
    """The current query string with `lang` set: a language switch keeps the page's range."""
    from urllib.parse import urlencode

    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return urlencode(args + [("lang", language)])


def format_number(value: Optional[float], decimals: int = 0, language: Optional[str] = None) -> str:
    """1234567.5 -> '1.234.567,5' in Danish, '1,234,567.5' in English."""
    if value is None:
        return "–"
    language = language or ui_language()
    text = f"{value:,.{decimals}f}"
    if language == "da":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def format_percent(rate: Optional[float], decimals: int = 1, language: Optional[str] = None) -> str:
    """0.6812 -> '68,1 %' in Danish (space before the sign, as Danish writes it), '68.1%' in English."""
    if rate is None:
        return "–"
    language = language or ui_language()
    number = format_number(rate * 100, decimals, language)
    return f"{number}\u00a0%" if language == "da" else f"{number}%"
