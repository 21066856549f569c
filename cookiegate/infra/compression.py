"""gzip and brotli variants of small bodies that are served many times (banner files, banner configs)."""
from __future__ import annotations

import functools
import gzip

import brotli
from flask import Request, Response

ENCODINGS = ("br", "gzip")


@functools.lru_cache(maxsize=256)
def variants(raw: bytes) -> dict[str, bytes]:
    """The body as is, gzip -9 and brotli 11; cached by content, so an unchanged body is compressed once."""
    return {
        "identity": raw,
        "gzip": gzip.compress(raw, compresslevel=9, mtime=0),
        "br": brotli.compress(raw, quality=11),
    }


def respond(request: Request, bodies: dict[str, bytes], mimetype: str, tag: str) -> Response:
    """The smallest variant the client accepts, with an ETag per variant and Vary: Accept-Encoding."""
    encoding = "identity"
    for candidate in ENCODINGS:
        if request.accept_encodings[candidate] and len(bodies[candidate]) < len(bodies["identity"]):
            encoding = candidate
            break
    response = Response(bodies[encoding], mimetype=mimetype)
    response.set_etag(tag if encoding == "identity" else f"{tag}-{encoding}")
    if encoding != "identity":
        response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    return response
