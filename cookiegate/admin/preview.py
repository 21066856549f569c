"""The banner preview: the real banner script, served by this service, in a sandboxed frame.

The console frames `/admin/preview/<token>/` with `sandbox="allow-scripts"`: the preview runs
in an opaque origin, so it can read nothing of the console (no cookies, no DOM, no storage)
and nothing it does reaches the consent log or the statistics. The page loads the banner from
`/admin/preview/<token>/banner/v1/cookiegate.js` — the very file visitors get — and the
script, as always, asks for its config next to where it came from, so it asks this blueprint,
which answers with the draft: the site's config with unsaved texts (or colours) applied. The draft travels
in the token, signed (only the console can make one) and short-lived; no inline script or
style is needed anywhere, so the preview keeps a strict CSP too.

The token is bound to the login session of the admin it was made for: it stops working when
that session ends (logout, expiry, a new password), and the frame's page itself answers only
that session's cookie. The files and the config the sandboxed frame then asks for come from an
opaque origin, which carries no cookies, so those check that the bound session is still alive.
"""
from __future__ import annotations

from typing import Any, Optional

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from flask_login import current_user
from itsdangerous import BadData, URLSafeTimedSerializer

from .. import banner
from ..auth.sessions import login_alive, login_binding
from ..sites.banner_config import choose_language, public_config
from ..sites.colours import delivered
from ..sites.site import get_site

SALT = "cookiegate.admin-preview.v1"
MAX_AGE = 4 * 3600

bp = Blueprint("admin_preview", __name__, url_prefix="/admin/preview", template_folder="templates")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["COOKIEGATE_SECRET_KEYS"], salt=SALT)


def make_token(site_key: str, language: str, texts: Optional[dict[str, str]] = None, policy_version: Optional[int] = None,
               colours: Optional[dict[str, str]] = None) -> str:
    """A preview of `site_key` in `language`; `texts` replace the saved texts of that language,
    `colours` (validated) the saved banner colours. Bound to the current login session."""
    payload: dict[str, Any] = {"s": site_key, "l": language, "x": list(login_binding(current_user._get_current_object()))}
    if texts is not None:
        payload["t"] = texts
    if policy_version is not None:
        payload["v"] = policy_version
    if colours is not None:
        payload["c"] = colours
    return _serializer().dumps(payload)


def preview_url(site_key: str, language: str, texts: Optional[dict[str, str]] = None, policy_version: Optional[int] = None,
                colours: Optional[dict[str, str]] = None) -> str:
    return url_for("admin_preview.page", token=make_token(site_key, language, texts, policy_version, colours))


def draft_config(token: str, *, own_session: bool = False) -> dict[str, Any]:
    """The draft a token shows; 404 once its login session has ended. With `own_session`, the
    request must also carry that session's cookie (the frame's page, which the console loads)."""
    try:
        payload = _serializer().loads(token, max_age=MAX_AGE)
    except BadData:
        abort(404)
    if not login_alive(payload.get("x")):
        abort(404)
    if own_session and not (current_user.is_authenticated and list(login_binding(current_user)) == payload["x"]):
        abort(404)
    site = get_site(payload.get("s", ""))
    if site is None:
        abort(404)
    language = choose_language(site, payload.get("l"))
    config = public_config(site, language)
    if "t" in payload:
        from ..sites.banner_config import shipped_texts

        texts = dict(shipped_texts(language)["banner"])
        texts.update(payload["t"])
        config["texts"] = texts
    if "v" in payload:
        config["policy_version"] = payload["v"]
    if "c" in payload:
        config["colours"] = delivered(payload["c"])
    return config


def _own_origin() -> str:
    return request.host_url.rstrip("/")


@bp.after_request
def _headers(response: Response) -> Response:
    me = _own_origin()
    # Framed by the console only; scripts, styles and requests only from this service.
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src {me}; style-src {me}; img-src {me} data:; connect-src {me}; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<token>/")
def page(token: str) -> Response:
    config = draft_config(token, own_session=True)
    return Response(render_template("admin/preview.html", config=config, token=token))


@bp.get("/<token>/banner/v1/<path:filename>")
def banner_file(token: str, filename: str) -> Response:
    draft_config(token)
    response = banner.serve(filename)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<token>/api/v1/sites/<site_key>/config")
def config(token: str, site_key: str) -> Response:
    config = draft_config(token)
    if site_key != config["site"]:
        abort(404)
    response = jsonify(config)
    # The sandboxed frame has an opaque origin ("null"): it may read this answer.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/<token>/api/v1/sites/<site_key>/<path:rest>", methods=["POST"])
def swallow(token: str, site_key: str, rest: str) -> Response:
    """Choices and impressions made in the preview are not recorded anywhere."""
    response = Response(status=204)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
