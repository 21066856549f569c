"""The stats query (`from`, `to`, `group_by`) as a pydantic model: the API checks it and describes
it with the same model (api/stats.py), the dashboard reads its range with it. A bad value is 400
invalid_parameter naming it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from .figures import GROUPINGS

DEFAULT_DAYS = 30
MAX_DAYS = 3660  # ten years: keeps one answer's work bounded


def _real_date(value: str) -> str:
    dt.date.fromisoformat(value)  # ValueError for 2026-02-30
    return value


# YYYY-MM-DD of the years 2000 to 2999; empty is the same as left out.
Day = Annotated[str, StringConstraints(pattern=r"^2[0-9]{3}-[0-9]{2}-[0-9]{2}$"), AfterValidator(_real_date),
                Field(json_schema_extra={"format": "date"})]


class InvalidParameter(ValueError):
    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter
        self.message = message


class StatsParams(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    first: Union[Literal[""], Day] = Field(
        "", alias="from", description="First day (inclusive, the site's time zone); empty or left out: 30 days before `to`.")
    last: Union[Literal[""], Day] = Field(
        "", alias="to", description="Last day (inclusive); empty or left out: today (or the 30th day from `from`, if "
        f"sooner). `from` and `to` may come in either order; a range longer than {MAX_DAYS} days is cut to the "
        f"{MAX_DAYS} days that end at `to` (the answer's `from` and `to` say which days it covers).")
    group_by: Literal[("",) + GROUPINGS] = Field("", description="How rows are grouped; empty or left out: `day`.")  # type: ignore[valid-type]


MESSAGES = {
    "from": "'from' must be a date as YYYY-MM-DD between the years 2000 and 2999.",
    "to": "'to' must be a date as YYYY-MM-DD between the years 2000 and 2999.",
    "group_by": f"'group_by' must be one of: {', '.join(GROUPINGS)}.",
}


@dataclass(frozen=True)
class StatsQuery:
    first: dt.date
    last: dt.date
    group_by: str


def parse(args, today: dt.date, default_group: str = "day") -> StatsQuery:
    """`today` is the site's local date. Defaults: the last 30 days up to today, by day."""
    try:
        params = StatsParams.model_validate(dict(args.items()) if hasattr(args, "items") else args)
    except ValidationError as error:
        name = str(error.errors(include_input=False, include_url=False)[0]["loc"][0])
        raise InvalidParameter(name, MESSAGES[name]) from None
    first = dt.date.fromisoformat(params.first) if params.first else None
    last = dt.date.fromisoformat(params.last) if params.last else None
    if first is not None and last is not None and first > last:
        first, last = last, first
    if last is None:  # today, or (from a day in the future) that day
        last = today if first is None else max(first, min(today, first + dt.timedelta(days=DEFAULT_DAYS - 1)))
    if first is None:
        first = last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if (last - first).days + 1 > MAX_DAYS:
        first = last - dt.timedelta(days=MAX_DAYS - 1)
    return StatsQuery(first, last, params.group_by or default_group)
