"""POST /api/v1/sites/<key>/impressions: count one banner display (no identifier is kept)."""
from __future__ import annotations

from flask import Response, g, request

from ..infra import visitor
from ..infra.ratelimit import limiter
from ..infra.request_checks import parse_json_object, read_body
from ..stats.rollup import count_impression
from . import bp
from .common import NO_STORE, POST_REFUSALS, OriginHeader, no_store
from .contract import Answer, Body, operation
from .cors import require_allowed_origin


class ImpressionRequest(Body):
    """Nothing is read from the body; an empty body or any JSON object will do."""


@bp.post("/sites/<site_key>/impressions")
@limiter.limit()
@operation(
    summary="Count one banner display (no identifier is kept)",
    headers=OriginHeader,
    body=ImpressionRequest,
    body_required=False,
    preflight=True,
    answers={**POST_REFUSALS, 204: Answer("Counted.", headers={"Cache-Control": NO_STORE})},
)
def post_impression(site_key: str) -> Response:
    require_allowed_origin()
    parse_json_object(read_body(request), allow_empty=True)
    count_impression(g.site.id, visitor.describe(request))
    return no_store(Response(status=204))
