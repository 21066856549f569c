"""Checks on what clients send. Each failure is an ApiError with a message of our own words."""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit, urlunsplit

from ..errors import ApiError

if TYPE_CHECKING:
    from flask import Request

try:  # gunicorn's body reader raises these for a malformed chunked body (InvalidChunkSize, ...)
    from gunicorn.http.errors import ParseException as _ServerBodyError
except ImportError:  # pragma: no cover - another WSGI server
    _ServerBodyError = ValueError

MAX_BODY_BYTES = 4096
MAX_URL_LENGTH = 2048
MAX_IDEMPOTENCY_KEY = 200
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,%d}$" % MAX_IDEMPOTENCY_KEY)
# Control characters (C0, DEL, C1) and lone surrogates have no place in anything we store.
FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def invalid(message: str, code: str = "invalid_request", status: int = 422, **extra: Any) -> ApiError:
    return ApiError(status, code, message, **extra)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_body(request: Request) -> bytes:
    """The request body, at most MAX_BODY_BYTES; bigger bodies are refused before they are read whole."""
    try:
        data = request.get_data(cache=False)
    except (_ServerBodyError, OSError, ValueError):
        # A broken chunked encoding or a body cut short: the client's fault, not ours.
        raise invalid("The request body could not be read (malformed chunked encoding or cut short).", "invalid_body", 400) from None
    if len(data) > MAX_BODY_BYTES:
        raise invalid("The request body is larger than 4 KiB.", "payload_too_large", 413)
    return data


def parse_json_object(raw: bytes, *, allow_empty: bool = False) -> dict[str, Any]:
    """A JSON object from UTF-8 bytes; 400 invalid_json for anything that is not JSON."""
    if not raw.strip():
        if allow_empty:
            return {}
        raise invalid("The request body must be a JSON object.", "invalid_json", 400)
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid("The request body must be UTF-8 encoded JSON.", "invalid_json", 400) from None
    if not isinstance(value, dict):
        raise invalid("The request body must be a JSON object.", "invalid_json", 400)
    return value


def text_field(body: dict[str, Any], name: str, *, max_length: int, required: bool = False, default: str = "") -> str:
    if name not in body:
        if required:
            raise invalid(f"'{name}' is required.")
        return default
    value = body[name]
    if not isinstance(value, str):
        raise invalid(f"'{name}' must be a string.")
    if len(value) > max_length:
        raise invalid(f"'{name}' is longer than {max_length} characters.")
    if FORBIDDEN_CHARACTERS.search(value):
        raise invalid(f"'{name}' contains control characters or invalid Unicode.")
    return value


def bool_field(body: dict[str, Any], name: str, *, default: bool = False) -> bool:
    # null is refused like any other non-boolean: the API description says true or false.
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise invalid(f"'{name}' must be true or false.")
    return value


def int_field(body: dict[str, Any], name: str, *, required: bool = False) -> Optional[int]:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"'{name}' is required.")
        return None
    if type(value) is not int or not 0 <= value < 2**31:
        raise invalid(f"'{name}' must be a whole number.")
    return value


def page_url(raw: str) -> str:
    """The page's address without query string, fragment or credentials; '' when none was sent."""
    if not raw:
        return ""
    try:
        parts = urlsplit(raw)
        hostname = parts.hostname
        port = parts.port
    except ValueError:
        raise invalid("'url' must be an http(s) URL.") from None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        raise invalid("'url' must be an http(s) URL.")
    if ":" in hostname:
        hostname = f"[{hostname}]"
    netloc = hostname + (f":{port}" if port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", "", ""))


def idempotency_key(header: Optional[str], body: dict[str, Any]) -> Optional[str]:
    """From the Idempotency-Key header, or the body's `idempotency_key` (a simple request has no custom headers)."""
    key = header if header is not None else body.get("idempotency_key")
    if key is None:
        return None
    if not isinstance(key, str) or not IDEMPOTENCY_KEY_PATTERN.match(key):
        raise invalid(f"An idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters.")
    return key
