"""A site's banner colours: validated here, stored on the site, delivered in the banner config.

`{"accent": "#0b4f8a", "background": "#ffffff", "text": "#222222"}`, every key optional; `#rgb` or
`#rrggbb`. The banner's own defaults fill the gaps. The combination must stay readable (WCAG AA):
text on background and the accent on background (links, switches) at least 4.5:1. The colour of
the buttons' text on the accent is chosen here (white or black, whichever contrasts more) and
delivered as `on_accent`. With only an accent, dark mode keeps the banner's own dark colours; a site
that sets its background or text keeps its colours in dark mode too.
"""
from __future__ import annotations

import re
from typing import Any

from ..errors import Invalid

KEYS = ("accent", "background", "text")
DEFAULTS = {"accent": "#0b4f8a", "background": "#ffffff", "text": "#222222"}
HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
MIN_CONTRAST = 4.5


def expand(colour: str) -> str:
    colour = colour.lower()
    return "#" + "".join(c * 2 for c in colour[1:]) if len(colour) == 4 else colour


def luminance(colour: str) -> float:
    channels = [int(expand(colour)[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _invalid(message: str) -> Invalid:
    return Invalid({"colours": message})


def validate_colours(colours: Any) -> dict[str, str]:
    """The stored form (lower-case #rrggbb, only given keys); Invalid({"colours": ...}) says what is wrong."""
    if colours is None:
        return {}
    if not isinstance(colours, dict):
        raise _invalid("banner colours must be an object such as {\"accent\": \"#0b4f8a\"}")
    unknown = sorted(set(colours) - set(KEYS))
    if unknown:
        raise _invalid(f"unknown banner colour {unknown[0]!r}; the colours are {', '.join(KEYS)}")
    clean = {}
    for key, value in colours.items():
        if not isinstance(value, str) or not HEX.match(value.strip()):
            raise _invalid(f"banner colour {key!r} must be #rgb or #rrggbb")
        clean[key] = expand(value.strip())
    scheme = {**DEFAULTS, **clean}
    if contrast(scheme["text"], scheme["background"]) < MIN_CONTRAST:
        raise _invalid(f"text {scheme['text']} on background {scheme['background']} is hard to read "
                         f"(contrast {contrast(scheme['text'], scheme['background']):.1f}:1, at least {MIN_CONTRAST}:1)")
    if contrast(scheme["accent"], scheme["background"]) < MIN_CONTRAST:
        raise _invalid(f"accent {scheme['accent']} on background {scheme['background']} is hard to read "
                         f"(contrast {contrast(scheme['accent'], scheme['background']):.1f}:1, at least {MIN_CONTRAST}:1)")
    return clean


def delivered(colours: dict[str, str]) -> dict[str, str]:
    """What the banner config carries: the site's colours and, with an accent, the text colour on it."""
    if not colours:
        return {}
    out = dict(colours)
    if "accent" in out:
        out["on_accent"] = max(("#ffffff", "#000000"), key=lambda c: contrast(c, out["accent"]))
    return out


def parse_option(pairs: tuple[str, ...]) -> dict[str, str]:
    """`--colour accent=#0b4f8a` (repeatable) -> {"accent": "#0b4f8a"}, validated."""
    colours = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise _invalid(f"--colour takes KEY=#hex, e.g. accent=#0b4f8a (got {pair!r})")
        colours[key.strip()] = value.strip()
    return validate_colours(colours)
