"""The coarse picture of a visitor that may be kept: city-level place and device families.

The request's address and User-Agent are read here and nowhere else, and only
the coarse result leaves this module.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Request


@dataclass(frozen=True)
class Location:
    country: str = ""
    region: str = ""
    city: str = ""


@dataclass(frozen=True)
class Device:
    device_type: str = ""
    browser_family: str = ""
    os_family: str = ""
    is_bot: bool = False


@dataclass(frozen=True)
class Visitor:
    location: Location = Location()
    device: Device = Device()


def describe(request: Request) -> Visitor:
    # Location and device lookups arrive with the geo/device work; until then both stay empty.
    return Visitor()
