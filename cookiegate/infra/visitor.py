"""The coarse picture of a visitor that may be kept: city-level place and device families.

The request's address and User-Agent are read here and nowhere else, and only
the coarse result leaves this module.

The address is `request.remote_addr`: the socket peer, or, with
COOKIEGATE_TRUSTED_PROXIES=N, the N-th address from the right of
X-Forwarded-For (ProxyFix in create_app has already picked it; whatever a
client wrote further left is never used).
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Request

from . import geo, useragent
from .geo import Location
from .useragent import Device

__all__ = ["Device", "Location", "Visitor", "describe"]


@dataclass(frozen=True)
class Visitor:
    location: Location = Location()
    device: Device = Device()


def describe(request: Request) -> Visitor:
    headers = request.headers
    return Visitor(
        location=geo.locate(request.remote_addr),
        device=useragent.classify(
            headers.get("User-Agent"), headers.get("Sec-CH-UA-Mobile"), headers.get("Sec-CH-UA-Platform")
        ),
    )
