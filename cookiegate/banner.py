"""Serves the built banner files of static/banner/ at /banner/v1/: ETag, conditional GET, long cache, gzip and brotli.

The files are built and minified by `make banner` (esbuild + terser, pinned in package-lock.json)
from the readable modules in static/banner/src/ and committed, so serving needs no JavaScript
toolchain. Each file is read and compressed once per process (again when it changes on disk), so a
request costs a stat, a dictionary lookup and a header comparison. Only the top folder is served:
the sources and the build script are not.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request
from werkzeug.security import safe_join

from .infra.compression import respond, variants

bp = Blueprint("banner", __name__, url_prefix="/banner/v1")

# Inside an installed package (pyproject.toml maps static/banner/ there), else beside it in a checkout.
BANNER_DIR = next(
    (p for p in (Path(__file__).resolve().parent / "static" / "banner", Path(__file__).resolve().parent.parent / "static" / "banner") if p.is_dir()),
    Path(__file__).resolve().parent.parent / "static" / "banner",
)
MIMETYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# A week; the ETag lets browsers revalidate cheaply after that.
CACHE_CONTROL = "public, max-age=604800, stale-while-revalidate=86400"


@dataclass(frozen=True)
class Asset:
    mimetype: str
    tag: str
    bodies: dict[str, bytes]  # encoding ("identity", "gzip", "br") -> bytes


@functools.lru_cache(maxsize=64)
def build_asset(path: Path, mtime_ns: int) -> Asset:
    """Compressed once per process and file version (apps in one process share it)."""
    raw = path.read_bytes()
    return Asset(mimetype=MIMETYPES[path.suffix], tag=hashlib.sha256(raw).hexdigest()[:24], bodies=variants(raw))


class AssetCache:
    def __init__(self, root: Path):
        self.root = root

    def get(self, filename: str) -> Asset | None:
        joined = safe_join(str(self.root), filename)
        if joined is None or "/" in filename:
            return None
        path = Path(joined)
        if path.suffix not in MIMETYPES or not path.is_file():
            return None
        return build_asset(path, path.stat().st_mtime_ns)

    def warm(self) -> None:
        """Build every file now, e.g. in gunicorn's master before it forks its workers."""
        for path in self.root.iterdir():
            if path.is_file():
                self.get(path.name)


@bp.get("/<path:filename>")
def serve(filename: str) -> Response:
    asset = current_app.extensions["cookiegate.banner"].get(filename)
    if asset is None:
        abort(404)
    response = respond(request, asset.bodies, asset.mimetype, asset.tag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    # Public files: any site may load them, also with crossorigin/SRI or under COEP.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response.make_conditional(request)


def init_app(app) -> None:
    app.extensions["cookiegate.banner"] = AssetCache(BANNER_DIR)
    app.register_blueprint(bp)
