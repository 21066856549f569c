"""The stats rows as CSV (one line per row, the same rows as the JSON answer), safe to open in a
spreadsheet (infra/csvsafe.py)."""
from __future__ import annotations

from typing import Any

from ..infra import csvsafe


def to_csv(answer: dict[str, Any]) -> str:
    categories = answer["categories"]
    with_country = answer["group_by"] == "city"
    header = ["key"] + (["country"] if with_country else []) + [
        "impressions", "consents", "accept_all", "reject_all", "custom", "withdraw"]
    header += [f"granted_{slug}" for slug in categories] + [f"rate_{slug}" for slug in categories] + ["interaction"]
    lines = [header]
    for row in answer["rows"]:
        line = [row["key"]] + ([row.get("country")] if with_country else [])
        line += [row["impressions"], row["consents"], row["accept_all"], row["reject_all"], row["custom"], row["withdraw"]]
        line += [row["granted"][slug] for slug in categories] + [row["rates"][slug] for slug in categories]
        line.append(row["rates"]["interaction"])
        lines.append(line)
    return csvsafe.write(lines)
