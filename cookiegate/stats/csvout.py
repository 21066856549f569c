"""The stats rows as CSV (one line per row, the same rows as the JSON answer)."""
from __future__ import annotations

import csv
import io
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # A spreadsheet must never run a city name as a formula (CSV injection).
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def to_csv(answer: dict[str, Any]) -> str:
    categories = answer["categories"]
    with_country = answer["group_by"] == "city"
    header = ["key"] + (["country"] if with_country else []) + [
        "impressions", "consents", "accept_all", "reject_all", "custom", "withdraw"]
    header += [f"granted_{slug}" for slug in categories] + [f"rate_{slug}" for slug in categories] + ["interaction"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in answer["rows"]:
        line = [row["key"]] + ([row.get("country")] if with_country else [])
        line += [row["impressions"], row["consents"], row["accept_all"], row["reject_all"], row["custom"], row["withdraw"]]
        line += [row["granted"][slug] for slug in categories] + [row["rates"][slug] for slug in categories]
        line.append(row["rates"]["interaction"])
        writer.writerow([_cell(value) for value in line])
    return out.getvalue()
