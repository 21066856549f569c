"""OpenAPI 3.1 description of the public API (served at /api/v1/openapi.json).

It is the contract: every status an operation can answer, the headers that matter, the CORS
preflight and the constraints the server enforces. tests/test_openapi.py validates real answers
against it and runs schemathesis over it.
"""
from __future__ import annotations

from ..infra.db_errors import RETRY_AFTER_SECONDS
from ..proof.receipt import RECEIPT_SCHEMA
from ..infra.request_checks import MAX_BODY_BYTES, MAX_IDEMPOTENCY_KEY, MAX_URL_LENGTH


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _header(description: str, schema: dict, required: bool = True) -> dict:
    return {"description": description, "required": required, "schema": schema}


RETRY_AFTER = _header("Seconds to wait before trying again.", {"type": "string", "pattern": "^[0-9]+$"})
CACHE_NO_STORE = _header("Never cached: `no-store`.", {"type": "string", "const": "no-store"})
ALLOW_ORIGIN = _header(
    "The request's Origin, when it is one of the site's origins (CORS).", {"type": "string"}, required=False
)


def _error(description: str, **headers: dict) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}
    if headers:
        response["headers"] = headers
    return response


UNKNOWN_SITE = _error("`unknown_site`: no site has this key.")
UNAVAILABLE = _error(
    "`service_unavailable`: the database cannot serve this now (down, frozen, full, read-only). "
    "Retry after `Retry-After` seconds with the same idempotency key. The decision and config "
    "endpoints answer from the last state read, so they only give this for a site the process never loaded.",
    **{"Retry-After": RETRY_AFTER},
)
RATE_LIMITED = _error("`rate_limited`: too many requests from this client.", **{"Retry-After": RETRY_AFTER})
TOO_LARGE = _error(f"`payload_too_large`: the body is over {MAX_BODY_BYTES} bytes.")
BAD_BODY = _error("`invalid_json`: the body is not a UTF-8 JSON object; `invalid_body`: it could not be read (malformed chunked encoding).")
ORIGIN_REFUSED = _error("`origin_not_allowed`: the Origin header is missing or not one of the site's origins.")

SITE_KEY = {"name": "site_key", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"}}
CONSENT_ID = {"name": "consent_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
TOKEN_HEADER = {"name": "X-Cookiegate-Token", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 1024}}
TOKEN_QUERY = {"name": "token", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 1024}}
LANGUAGE = {"type": "string", "maxLength": 35, "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"}
LANGUAGE_LIST = {"type": "array", "items": {"type": "string", "pattern": "^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"}, "minItems": 1, "maxItems": 10}
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "pattern": "^[!-~]{1,%d}$" % MAX_IDEMPOTENCY_KEY}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key and the same body returns the first answer (`Idempotent-Replayed: true`) "
    "and stores nothing twice; the same key with another body is `422 idempotency_key_reused`. Keys are scoped to "
    "the site, the endpoint and (withdrawals) the consent, and kept 24 hours. May also be sent as the body field "
    "`idempotency_key`, which keeps the request simple (no CORS preflight).",
    "schema": IDEMPOTENCY_KEY_SCHEMA,
}
ORIGIN = {"name": "Origin", "in": "header", "required": True, "description": "One of the site's origins.", "schema": {"type": "string"}}
CATEGORY_SLUG = {"type": "string", "pattern": "^[a-z0-9_-]{1,40}$"}
CHOICES = {
    "type": "object",
    "propertyNames": CATEGORY_SLUG,
    "additionalProperties": {"type": "boolean"},
    "description": "Category slug: granted. Unknown categories are `422 invalid_choices`; `necessary` is always recorded as true.",
    "example": {"statistics": True, "marketing": False},
}
RECORDED = {
    "description": "Recorded and committed (or, with `Idempotent-Replayed: true`, the first answer to this key).",
    "headers": {
        "Idempotent-Replayed": _header("`true` when this is the stored answer to an earlier request with the same key.", {"type": "string", "const": "true"}, required=False),
        "Cache-Control": CACHE_NO_STORE,
        "Access-Control-Allow-Origin": ALLOW_ORIGIN,
    },
    "content": {"application/json": {"schema": _ref("ConsentAnswer")}},
}


def _preflight(methods: str) -> dict:
    return {
        "options": {
            "summary": "CORS preflight",
            "description": f"Answered for the site's own origins only. Allowed methods: {methods}.",
            "parameters": [
                {"name": "Origin", "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": "Access-Control-Request-Method", "in": "header", "required": False, "schema": {"type": "string"}},
                {"name": "Access-Control-Request-Headers", "in": "header", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "204": {
                    "description": "Allowed.",
                    "headers": {
                        "Access-Control-Allow-Origin": _header("The request's Origin.", {"type": "string"}),
                        "Access-Control-Allow-Methods": _header("Allowed methods.", {"type": "string", "const": "GET, POST, OPTIONS"}),
                        "Access-Control-Allow-Headers": _header("Allowed request headers.", {"type": "string", "const": "Content-Type, Idempotency-Key, X-Cookiegate-Token"}),
                        "Access-Control-Max-Age": _header("Seconds a browser may cache this answer.", {"type": "string", "pattern": "^[0-9]+$"}),
                    },
                },
                "403": ORIGIN_REFUSED,
                "404": UNKNOWN_SITE,
                "503": UNAVAILABLE,
            },
        }
    }


def _site_path(operations: dict, methods: str) -> dict:
    return {"parameters": [SITE_KEY], **operations, **_preflight(methods)}


SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "cookiegate public API",
        "version": "1",
        "description": "Consent banner config, proof of consent and server-side consent decisions. "
        "Errors always have the shape {\"error\": {\"code\", \"message\"}}. Every per-site path answers a CORS "
        "preflight (OPTIONS) for the site's own origins. A database outage is `503 service_unavailable` with "
        f"`Retry-After: {RETRY_AFTER_SECONDS}`.",
    },
    "paths": {
        "/api/v1/sites/{site_key}/config": _site_path(
            {
                "get": {
                    "summary": "Banner config for one language",
                    "description": "`lang`: one language tag or up to 10 in order of preference (`da-DK,en`); the first the site has "
                    "is chosen, else the site's default. `layer=first`: only what the banner's first layer needs (the first layer's "
                    "texts, category slugs, services' kinds, settings and cookie names); the whole config otherwise.",
                    "parameters": [
                        {"name": "lang", "in": "query", "required": False, "schema": LANGUAGE_LIST, "style": "form", "explode": False},
                        {"name": "layer", "in": "query", "required": False, "schema": {"type": "string", "enum": ["first"]}},
                    ],
                    "responses": {
                        "200": {
                            "description": "Texts, categories, services with their cookies, policy version. Cacheable; gzip or br when asked.",
                            "headers": {
                                "ETag": _header("Names this exact content.", {"type": "string"}),
                                "Cache-Control": _header("Public, for COOKIEGATE_CONFIG_MAX_AGE seconds.", {"type": "string"}),
                                "Access-Control-Allow-Origin": ALLOW_ORIGIN,
                            },
                            "content": {"application/json": {"schema": {"anyOf": [_ref("BannerConfig"), _ref("FirstLayerConfig")]}}},
                        },
                        "304": {"description": "Not modified (If-None-Match matched the ETag)."},
                        "404": UNKNOWN_SITE,
                        "422": _error("`invalid_request`: `lang` is not a language tag (or a list of at most 10), or `layer` is not `first`."),
                        "503": UNAVAILABLE,
                    },
                }
            },
            "GET, OPTIONS",
        ),
        "/api/v1/sites/{site_key}/consents": _site_path(
            {
                "post": {
                    "summary": "Record a visitor's choice",
                    "parameters": [ORIGIN, IDEMPOTENCY],
                    "requestBody": {
                        "required": True,
                        "description": f"JSON, sent as application/json or text/plain (a simple request needs no preflight). At most {MAX_BODY_BYTES} bytes.",
                        "content": {"application/json": {"schema": _ref("ConsentRequest")}, "text/plain": {"schema": _ref("ConsentRequest")}},
                    },
                    "responses": {
                        "201": RECORDED,
                        "400": BAD_BODY,
                        "403": ORIGIN_REFUSED,
                        "404": UNKNOWN_SITE,
                        "409": _error("`policy_version_changed`: the error carries the current `policy_version`; show the banner again."),
                        "413": TOO_LARGE,
                        "422": _error("`invalid_choices`, `invalid_request` (a field of the wrong type, null, too long or malformed) or `idempotency_key_reused`."),
                        "429": RATE_LIMITED,
                        "503": UNAVAILABLE,
                    },
                }
            },
            "POST, OPTIONS",
        ),
        "/api/v1/sites/{site_key}/decision": _site_path(
            {
                "get": {
                    "summary": "May each tag load? Fails closed, never errors for a bad, expired or missing token.",
                    "parameters": [TOKEN_QUERY, TOKEN_HEADER, {"name": "cookiegate", "in": "cookie", "required": False, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "The decision.",
                            "headers": {"Cache-Control": CACHE_NO_STORE, "Access-Control-Allow-Origin": ALLOW_ORIGIN},
                            "content": {"application/json": {"schema": _ref("Decision")}},
                        },
                        "404": UNKNOWN_SITE,
                        "503": UNAVAILABLE,
                    },
                }
            },
            "GET, OPTIONS",
        ),
        "/api/v1/sites/{site_key}/checkpoints": _site_path(
            {
                "get": {
                    "summary": "The site's signed log checkpoints: public, cacheable, for anyone to keep a copy",
                    "description": "Every checkpoint line (the newest 1000, oldest first). Each is an Ed25519 signature over the "
                    "site's log head; a copy kept elsewhere lets `cookiegate verify-log --checkpoint-url` catch a log rewritten, "
                    "truncated or wiped together with its checkpoints (docs/proof.md).",
                    "responses": {
                        "200": {
                            "description": "The archive.",
                            "headers": {
                                "Cache-Control": _header("Public, for 60 seconds.", {"type": "string"}),
                                "ETag": _header("Names this exact content.", {"type": "string"}),
                                "Access-Control-Allow-Origin": _header("`*` (public), or the request's Origin when it is the site's.", {"type": "string"}),
                            },
                            "content": {"application/json": {"schema": _ref("CheckpointArchive")}},
                        },
                        "304": {"description": "Not modified (If-None-Match matched the ETag)."},
                        "404": UNKNOWN_SITE,
                        "503": UNAVAILABLE,
                    },
                }
            },
            "GET, OPTIONS",
        ),
        "/api/v1/sites/{site_key}/consents/{consent_id}": {
            **_site_path(
                {
                    "get": {
                        "summary": "The visitor's own proof of consent",
                        "parameters": [TOKEN_HEADER, TOKEN_QUERY],
                        "responses": {
                            "200": {
                                "description": "The consent receipt (ISO/IEC TS 27560 style), the same document `cookiegate export` prints: "
                                "every event of this consent with the banner texts it was given against and what verifies it. "
                                "404 once the consent is erased or purged.",
                                "headers": {"Cache-Control": CACHE_NO_STORE},
                                "content": {"application/json": {"schema": _ref("ConsentReceipt")}},
                            },
                            "401": _error("`invalid_token`: no valid token of this site."),
                            "403": _error("`forbidden`: the token is another consent's."),
                            "404": _error("`unknown_site` or `unknown_consent`."),
                            "429": RATE_LIMITED,
                            "503": UNAVAILABLE,
                        },
                    }
                },
                "GET, OPTIONS",
            ),
            "parameters": [SITE_KEY, CONSENT_ID],
        },
        "/api/v1/sites/{site_key}/consents/{consent_id}/withdraw": {
            **_site_path(
                {
                    "post": {
                        "summary": "Withdraw consent; earlier tokens stop counting within 60 s everywhere",
                        "description": "A browser's Origin must be one of the site's; a back end holding the token may call without one.",
                        "parameters": [TOKEN_HEADER, TOKEN_QUERY, IDEMPOTENCY],
                        "requestBody": {
                            "required": False,
                            "description": "The token may be sent here as `token` (keeps the request simple).",
                            "content": {"application/json": {"schema": _ref("WithdrawRequest")}, "text/plain": {"schema": _ref("WithdrawRequest")}},
                        },
                        "responses": {
                            "201": RECORDED,
                            "400": BAD_BODY,
                            "401": _error("`invalid_token`: no valid token of this site."),
                            "403": _error("`origin_not_allowed` or `forbidden` (the token is another consent's)."),
                            "404": UNKNOWN_SITE,
                            "413": TOO_LARGE,
                            "422": _error("`invalid_request` or `idempotency_key_reused`."),
                            "429": RATE_LIMITED,
                            "503": UNAVAILABLE,
                        },
                    }
                },
                "POST, OPTIONS",
            ),
            "parameters": [SITE_KEY, CONSENT_ID],
        },
        "/api/v1/sites/{site_key}/impressions": _site_path(
            {
                "post": {
                    "summary": "Count one banner display (no identifier is kept)",
                    "parameters": [ORIGIN],
                    "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}, "text/plain": {"schema": {"type": "object"}}}},
                    "responses": {
                        "204": {"description": "Counted.", "headers": {"Cache-Control": CACHE_NO_STORE}},
                        "400": BAD_BODY,
                        "403": ORIGIN_REFUSED,
                        "404": UNKNOWN_SITE,
                        "413": TOO_LARGE,
                        "429": RATE_LIMITED,
                        "503": UNAVAILABLE,
                    },
                }
            },
            "POST, OPTIONS",
        ),
        "/healthz": {
            "get": {
                "summary": "Liveness and readiness: is the database reachable and does it take writes",
                "responses": {
                    "200": {"description": "Up.", "headers": {"Cache-Control": CACHE_NO_STORE}, "content": {"application/json": {"schema": _ref("Health")}}},
                    "503": {
                        "description": "The database is unreachable, read-only or full.",
                        "headers": {"Retry-After": RETRY_AFTER, "Cache-Control": CACHE_NO_STORE},
                        "content": {"application/json": {"schema": _ref("Health")}},
                    },
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}
        },
    },
    "components": {
        "schemas": {
            "CheckpointArchive": {
                "type": "object",
                "required": ["site", "checkpoints", "latest", "public_keys"],
                "properties": {
                    "site": {"type": "string"},
                    "checkpoints": {"type": "array", "items": {"type": "string", "pattern": "^cookiegate-checkpoint/1 "}},
                    "latest": {"type": ["string", "null"]},
                    "interval_seconds": {"type": ["integer", "null"], "description": "How often the service signs by itself (null: not)."},
                    "public_keys": {"type": "array", "items": {"type": "string"}},
                    "format": {"type": "string"},
                },
            },
            "Error": {
                "type": "object",
                "required": ["error"],
                "additionalProperties": False,
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string", "pattern": "^[a-z_]+$"},
                            "message": {"type": "string", "minLength": 1},
                            "policy_version": {"type": "integer", "description": "With `policy_version_changed`: the current version."},
                        },
                    }
                },
            },
            "ConsentRequest": {
                "type": "object",
                "required": ["method", "policy_version"],
                "properties": {
                    "choices": CHOICES,
                    "method": {"type": "string", "enum": ["accept_all", "reject_all", "custom"], "description": "`custom` needs `choices`; `accept_all` / `reject_all` may omit them and must not contradict them."},
                    "policy_version": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1, "description": "The version the visitor was shown; another one is `409`."},
                    "url": {"type": "string", "maxLength": MAX_URL_LENGTH, "description": "An http(s) URL, kept without query string, fragment or credentials."},
                    "language": LANGUAGE,
                    "gpc": {"type": "boolean"},
                    "token": {"type": "string", "maxLength": 1024, "description": "The visitor's earlier token: the new record keeps the same consent id."},
                    "idempotency_key": IDEMPOTENCY_KEY_SCHEMA,
                },
            },
            "WithdrawRequest": {
                "type": "object",
                "properties": {
                    "token": {"type": "string", "maxLength": 1024},
                    "url": {"type": "string", "maxLength": MAX_URL_LENGTH},
                    "language": LANGUAGE,
                    "gpc": {"type": "boolean"},
                    "idempotency_key": IDEMPOTENCY_KEY_SCHEMA,
                },
            },
            "ConsentAnswer": {
                "type": "object",
                "required": ["consent_id", "token", "policy_version", "choices", "method", "recorded_at", "expires_at"],
                "properties": {
                    "consent_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                    "token": {"type": "string", "minLength": 1},
                    "policy_version": {"type": "integer"},
                    "choices": {**CHOICES, "required": ["necessary"]},
                    "method": {"type": "string", "enum": ["accept_all", "reject_all", "custom", "withdraw"]},
                    "recorded_at": {"type": "string", "format": "date-time"},
                    "expires_at": {"type": "string", "format": "date-time"},
                },
            },
            "Decision": {
                "type": "object",
                "required": ["status", "consent_id", "policy_version", "choices", "tags", "consent_mode", "show_banner"],
                "additionalProperties": False,
                "properties": {
                    "status": {"type": "string", "enum": ["given", "none", "invalid", "expired", "outdated", "withdrawn"]},
                    "consent_id": {"type": ["string", "null"]},
                    "policy_version": {"type": "integer"},
                    "choices": CHOICES,
                    "tags": {"type": "object", "additionalProperties": {"type": "boolean"}},
                    "consent_mode": {
                        "type": "object",
                        "required": ["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage", "functionality_storage", "personalization_storage", "security_storage"],
                        "additionalProperties": {"type": "string", "enum": ["granted", "denied"]},
                    },
                    "show_banner": {"type": "boolean"},
                },
            },
            "BannerConfig": {
                "type": "object",
                "required": ["site", "policy_version", "lifetime_days", "language", "languages", "texts", "categories", "services", "necessary_cookies"],
                "properties": {
                    "site": {"type": "string"},
                    "policy_version": {"type": "integer"},
                    "lifetime_days": {"type": "integer", "minimum": 1},
                    "language": {"type": "string"},
                    "languages": {"type": "array", "items": {"type": "string"}},
                    "texts": {"type": "object", "additionalProperties": {"type": "string"}},
                    "privacy_policy_url": {"type": ["string", "null"]},
                    "floating_button": {"type": "boolean"},
                    "colours": {"type": "object", "description": "The site's banner colours: accent, on_accent, background, text (#rrggbb), each optional.",
                                "additionalProperties": {"type": "string", "pattern": "^#[0-9a-fA-F]{6}$"}},
                    "categories": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["slug", "name", "description", "required"],
                            "properties": {"slug": CATEGORY_SLUG, "name": {"type": "string"}, "description": {"type": "string"}, "required": {"type": "boolean"}},
                        },
                    },
                    "services": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["key", "kind", "name", "category", "cookies"],
                            "properties": {
                                "key": {"type": "string"},
                                "kind": {"type": "string"},
                                "name": {"type": "string"},
                                "provider": {"type": "string"},
                                "category": CATEGORY_SLUG,
                                "description": {"type": "string"},
                                "settings": {"type": "object"},
                                "cookies": {"type": "array", "items": _ref("DeclaredCookie")},
                            },
                        },
                    },
                    "necessary_cookies": {"type": "array", "items": _ref("DeclaredCookie")},
                },
            },
            "FirstLayerConfig": {
                "type": "object",
                "description": "`layer=first`: what a first-time visitor's banner needs before the settings are opened.",
                "required": ["policy_version", "lifetime_days", "language", "texts", "categories", "services"],
                "properties": {
                    "policy_version": {"type": "integer"},
                    "lifetime_days": {"type": "integer", "minimum": 1},
                    "language": {"type": "string"},
                    "texts": {"type": "object", "additionalProperties": {"type": "string"}},
                    "privacy_policy_url": {"type": ["string", "null"]},
                    "floating_button": {"type": "boolean"},
                    "colours": {"type": "object", "additionalProperties": {"type": "string"}},
                    "categories": {
                        "type": "array",
                        "items": {"type": "object", "required": ["slug", "required"], "properties": {"slug": CATEGORY_SLUG, "required": {"type": "boolean"}}},
                    },
                    "services": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["kind", "category", "cookies"],
                            "properties": {
                                "kind": {"type": "string"},
                                "category": CATEGORY_SLUG,
                                "settings": {"type": "object"},
                                "cookies": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    },
                },
            },
            "DeclaredCookie": {"type": "object", "additionalProperties": {"type": "string"}},
            "ConsentReceipt": RECEIPT_SCHEMA,
            "Health": {
                "type": "object",
                "required": ["status", "database", "geoip"],
                "properties": {
                    "status": {"type": "string", "enum": ["ok", "degraded"]},
                    "database": {"type": "string", "enum": ["ok", "unreachable", "read_only", "full"]},
                    "geoip": {"type": "string", "enum": ["ok", "missing"]},
                },
            },
        }
    },
}
