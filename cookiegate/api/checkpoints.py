"""GET /api/v1/sites/<key>/checkpoints: the site's signed checkpoints, public and cacheable, so
site owners, auditors and visitors can keep copies that someone with write access to the
database cannot reach (`verify-log --checkpoint-url` checks the log against such a copy)."""
from __future__ import annotations

from flask import Response, current_app, g, jsonify, request

from ..proof.checkpoints import published
from ..proof.keys import published_keys
from ..proof.schedule import interval
from . import bp

MAX_AGE = 60  # seconds: a copy is at most a minute behind, and the database is not read per visitor


@bp.get("/sites/<site_key>/checkpoints")
def site_checkpoints(site_key: str) -> Response:
    lines = [checkpoint.line() for checkpoint in published(g.site.id, g.site.key)]
    every = interval(current_app._get_current_object())  # type: ignore[attr-defined]
    response = jsonify({
        "site": g.site.key,
        "checkpoints": lines,
        "latest": lines[-1] if lines else None,
        "interval_seconds": every or None,
        "public_keys": published_keys(),
        "format": "cookiegate-checkpoint/1 site=KEY seq=N head=HEX at=TIME key=KEYID sig=BASE64URL; "
                  "Ed25519 over the line before ' sig=' (docs/proof.md)",
    })
    response.cache_control.public = True
    response.cache_control.max_age = MAX_AGE
    response.headers["Access-Control-Allow-Origin"] = "*"  # public: anyone may keep a copy
    response.add_etag()
    return response.make_conditional(request)
