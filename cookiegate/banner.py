"""Serves static/banner/ at /banner/v1/: ETag, conditional GET, long cache, gzip and brotli.

Each file is read and compressed once per process (again when it changes on
disk), so a request costs a dictionary lookup and a header comparison.
"""
from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import brotli
from flask import Blueprint, Response, abort, current_app, request
from werkzeug.security import safe_join

bp = Blueprint("banner", __name__, url_prefix="/banner/v1")

BANNER_DIR = Path(__file__).resolve().parent.parent / "static" / "banner"
MIMETYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
# A week; the ETag lets browsers revalidate cheaply after that.
CACHE_CONTROL = "public, max-age=604800, stale-while-revalidate=86400"


@dataclass(frozen=True)
class Asset:
    mtime_ns: int
    mimetype: str
    tag: str
    bodies: dict[str, bytes]  # encoding ("identity", "gzip", "br") -> bytes


def build_asset(path: Path) -> Asset:
    raw = path.read_bytes()
    return Asset(
        mtime_ns=path.stat().st_mtime_ns,
        mimetype=MIMETYPES[path.suffix],
        tag=hashlib.sha256(raw).hexdigest()[:24],
        bodies={
            "identity": raw,
            "gzip": gzip.compress(raw, compresslevel=9, mtime=0),
            "br": brotli.compress(raw, quality=11),
        },
    )


class AssetCache:
    def __init__(self, root: Path):
        self.root = root
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def get(self, filename: str) -> Asset | None:
        joined = safe_join(str(self.root), filename)
        if joined is None:
            return None
        path = Path(joined)
        if path.suffix not in MIMETYPES or not path.is_file():
            return None
        asset = self._assets.get(filename)
        if asset is None or asset.mtime_ns != path.stat().st_mtime_ns:
            with self._lock:
                asset = build_asset(path)
                self._assets[filename] = asset
        return asset


def choose_encoding(asset: Asset) -> str:
    accepted = request.accept_encodings
    for encoding in ("br", "gzip"):
        if accepted[encoding] and len(asset.bodies[encoding]) < len(asset.bodies["identity"]):
            return encoding
    return "identity"


@bp.get("/<path:filename>")
def serve(filename: str) -> Response:
    asset = current_app.extensions["cookiegate.banner"].get(filename)
    if asset is None:
        abort(404)
    encoding = choose_encoding(asset)
    response = Response(asset.bodies[encoding], mimetype=asset.mimetype)
    response.set_etag(asset.tag if encoding == "identity" else f"{asset.tag}-{encoding}")
    if encoding != "identity":
        response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = CACHE_CONTROL
    # Public files: any site may load them, also with crossorigin/SRI or under COEP.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)


def init_app(app) -> None:
    app.extensions["cookiegate.banner"] = AssetCache(BANNER_DIR)
