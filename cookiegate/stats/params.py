"""Reading `from`, `to` and `group_by`; a bad one is 400 invalid_parameter naming it."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Mapping, Optional

from .figures import GROUPINGS

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years: keeps one answer's work bounded


class InvalidParameter(ValueError):
    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class StatsQuery:
    first: dt.date
    last: dt.date
    group_by: str


def _date(args: Mapping[str, str], name: str) -> Optional[dt.date]:
    raw = args.get(name)
    if raw is None or raw == "":
        return None
    if not DATE.match(raw):
        raise InvalidParameter(name, f"'{name}' must be a date as YYYY-MM-DD.")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidParameter(name, f"'{name}' is not a real date.") from None


def parse(args: Mapping[str, str], today: dt.date, default_group: str = "day") -> StatsQuery:
    """`today` is the site's local date. Defaults: the last 30 days up to today, by day."""
    group_by = args.get("group_by") or default_group
    if group_by not in GROUPINGS:
        raise InvalidParameter("group_by", f"'group_by' must be one of: {', '.join(GROUPINGS)}.")
    first, last = _date(args, "from"), _date(args, "to")
    if last is None:
        last = today if first is None else min(today, first + dt.timedelta(days=DEFAULT_DAYS - 1))
    if first is None:
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidParameter("from", "'from' must be on or before 'to'.")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidParameter("to", f"The range may span at most {MAX_DAYS} days.")
    for name, day in (("from", first), ("to", last)):
        if not 2000 <= day.year <= 2999:
            raise InvalidParameter(name, f"'{name}' must lie between the years 2000 and 2999.")
    return StatsQuery(first, last, group_by)
