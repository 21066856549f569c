"""CSV cells a spreadsheet cannot run (CSV injection), for every CSV the service writes.

A cell that starts with = + - @ (or ; and | , which a spreadsheet splitting on semicolons or
reading DDE also acts on) gets a leading apostrophe, so it shows as text. Control characters
(a GeoIP city name may carry some, a tab or CR starts a formula in some spreadsheets) become
U+FFFD: visible, and inert. Text cells are quoted as a whole, so a semicolon inside one cannot
split it into a new cell for a spreadsheet set to semicolons (the Danish default).
"""
from __future__ import annotations

import csv
import io
import re
from typing import Any, Iterable

ACTIVE_START = ("=", "+", "-", "@", ";", "|")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def cell(value: Any) -> Any:
    """A value fit for a spreadsheet: numbers as they are, text neutralised, None empty."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = CONTROL.sub("\ufffd", str(value))
    return "'" + text if text.startswith(ACTIVE_START) else text


def write(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text (CRLF lines), every text cell quoted and neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_NONNUMERIC)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()
