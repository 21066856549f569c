"""Checks of one form value, shared by the domain modules: each adds what is wrong to `errors`
under the field's name (so one Invalid names every wrong field) and returns the cleaned value."""
from __future__ import annotations

import re
from typing import Any, Optional

from ..infra.request_checks import FORBIDDEN_CHARACTERS

# Line breaks are fine in texts; other control characters are not.
TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def check_text(value: Optional[str], field: str, errors: dict[str, str], *, max_length: int, required: bool = False, multiline: bool = False) -> str:
    value = (value or "").strip()
    if multiline:
        value = value.replace("\r\n", "\n")
    if required and not value:
        errors[field] = "Required."
    elif len(value) > max_length:
        errors[field] = f"At most {max_length} characters."
    elif (TEXT_FORBIDDEN if multiline else FORBIDDEN_CHARACTERS).search(value):
        errors[field] = "Contains control characters."
    return value


def check_whole(value: Any, field: str, errors: dict[str, str], low: int, high: int, *, optional: bool = False) -> Optional[int]:
    raw = "" if value is None else str(value).strip()
    if not raw and optional:
        return None
    try:
        number = int(raw)
    except ValueError:
        errors[field] = "A whole number is required."
        return None
    if not low <= number <= high:
        errors[field] = f"Between {low} and {high}."
        return None
    return number
