"""OpenAPI 3.1 description of the public API (served at /api/v1/openapi.json)."""
from __future__ import annotations

from ..proof.receipt import RECEIPT_SCHEMA


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


SITE_KEY = {"name": "site_key", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"}}
CONSENT_ID = {"name": "consent_id", "in": "path", "required": True, "schema": {"type": "string"}}
TOKEN_HEADER = {"name": "X-Cookiegate-Token", "in": "header", "required": False, "schema": {"type": "string"}}
TOKEN_QUERY = {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key returns the first answer and stores nothing twice. "
    "May also be sent as the body field `idempotency_key`, which keeps the request simple (no CORS preflight).",
    "schema": {"type": "string", "maxLength": 200},
}
ORIGIN = {"name": "Origin", "in": "header", "required": True, "schema": {"type": "string"}}

CHOICES = {"type": "object", "additionalProperties": {"type": "boolean"}, "example": {"necessary": True, "statistics": True, "marketing": False}}

SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "cookiegate public API",
        "version": "1",
        "description": "Consent banner config, proof of consent and server-side consent decisions. "
        "Errors always have the shape {\"error\": {\"code\", \"message\"}}.",
    },
    "paths": {
        "/api/v1/sites/{site_key}/config": {
            "get": {
                "summary": "Banner config for one language",
                "description": "`lang`: one language tag or up to 10 in order of preference (`da-DK,en`); the first the site has "
                "is chosen, else the site's default. `layer=first`: only what the banner's first layer needs (the first layer's "
                "texts, category slugs, services' kinds, settings and cookie names); the whole config otherwise.",
                "parameters": [
                    SITE_KEY,
                    {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"}},
                    {"name": "layer", "in": "query", "required": False, "schema": {"type": "string", "enum": ["first"]}},
                ],
                "responses": {
                    "200": {"description": "Texts, categories, services with their cookies, policy version.", "content": {"application/json": {"schema": _ref("BannerConfig")}}},
                    "304": {"description": "Not modified (ETag)."},
                    "404": _error("unknown_site"),
                    "422": _error("invalid_request: malformed lang or layer"),
                },
            }
        },
        "/api/v1/sites/{site_key}/consents": {
            "post": {
                "summary": "Record a visitor's choice",
                "parameters": [SITE_KEY, ORIGIN, IDEMPOTENCY],
                "requestBody": {
                    "required": True,
                    "description": "JSON, sent as application/json or text/plain (a simple request needs no preflight). At most 4 KiB.",
                    "content": {"application/json": {"schema": _ref("ConsentRequest")}, "text/plain": {"schema": _ref("ConsentRequest")}},
                },
                "responses": {
                    "201": {"description": "Recorded and committed.", "content": {"application/json": {"schema": _ref("ConsentAnswer")}}},
                    "400": _error("invalid_json"),
                    "403": _error("origin_not_allowed"),
                    "404": _error("unknown_site"),
                    "409": _error("policy_version_changed; the error carries policy_version"),
                    "413": _error("payload_too_large"),
                    "422": _error("invalid_choices or invalid_request"),
                    "429": _error("rate_limited; see Retry-After"),
                },
            }
        },
        "/api/v1/sites/{site_key}/decision": {
            "get": {
                "summary": "May each tag load? Fails closed, never errors for a bad token.",
                "parameters": [SITE_KEY, TOKEN_QUERY, TOKEN_HEADER, {"name": "cookiegate", "in": "cookie", "required": False, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The decision.", "content": {"application/json": {"schema": _ref("Decision")}}}, "404": _error("unknown_site")},
            }
        },
        "/api/v1/sites/{site_key}/consents/{consent_id}": {
            "get": {
                "summary": "The visitor's own proof of consent",
                "parameters": [SITE_KEY, CONSENT_ID, TOKEN_HEADER, TOKEN_QUERY],
                "responses": {
                    "200": {"description": "The consent receipt (ISO/IEC TS 27560 style), the same document `cookiegate export` prints: every event of this consent with the banner texts it was given against and what verifies it. 404 once the consent is erased or purged.", "content": {"application/json": {"schema": _ref("ConsentReceipt")}}},
                    "401": _error("invalid_token"),
                    "403": _error("forbidden: the token is another consent's"),
                    "404": _error("unknown_site or unknown_consent"),
                    "429": _error("rate_limited"),
                },
            }
        },
        "/api/v1/sites/{site_key}/consents/{consent_id}/withdraw": {
            "post": {
                "summary": "Withdraw consent; earlier tokens stop counting within 60 s everywhere",
                "parameters": [SITE_KEY, CONSENT_ID, TOKEN_HEADER, TOKEN_QUERY, IDEMPOTENCY],
                "requestBody": {"required": False, "description": "The token may be sent here as `token` (keeps the request simple).", "content": {"application/json": {"schema": {"type": "object", "properties": {"token": {"type": "string"}, "url": {"type": "string"}, "language": {"type": "string"}, "gpc": {"type": "boolean"}}}}}},
                "responses": {
                    "201": {"description": "Withdrawal recorded; a new token that says so.", "content": {"application/json": {"schema": _ref("ConsentAnswer")}}},
                    "400": _error("invalid_json"),
                    "401": _error("invalid_token"),
                    "403": _error("origin_not_allowed or forbidden"),
                    "404": _error("unknown_site"),
                    "413": _error("payload_too_large"),
                    "422": _error("invalid_request"),
                    "429": _error("rate_limited"),
                },
            }
        },
        "/api/v1/sites/{site_key}/impressions": {
            "post": {
                "summary": "Count one banner display (no identifier is kept)",
                "parameters": [SITE_KEY, ORIGIN],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {
                    "204": {"description": "Counted."},
                    "400": _error("invalid_json"),
                    "403": _error("origin_not_allowed"),
                    "404": _error("unknown_site"),
                    "413": _error("payload_too_large"),
                    "429": _error("rate_limited"),
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness and readiness",
                "responses": {
                    "200": {"description": "Up.", "content": {"application/json": {"schema": _ref("Health")}}},
                    "503": {"description": "The database is down.", "content": {"application/json": {"schema": _ref("Health")}}},
                },
            }
        },
        "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
    },
    "components": {
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
            },
            "ConsentRequest": {
                "type": "object",
                "required": ["method", "policy_version"],
                "properties": {
                    "choices": CHOICES,
                    "method": {"type": "string", "enum": ["accept_all", "reject_all", "custom"]},
                    "policy_version": {"type": "integer"},
                    "url": {"type": "string", "description": "Kept without query string or fragment."},
                    "language": {"type": "string"},
                    "gpc": {"type": "boolean"},
                    "token": {"type": "string", "description": "The visitor's earlier token: the new record keeps the same consent id."},
                    "idempotency_key": {"type": "string", "maxLength": 200},
                },
            },
            "ConsentAnswer": {
                "type": "object",
                "required": ["consent_id", "token", "policy_version", "choices", "expires_at"],
                "properties": {
                    "consent_id": {"type": "string"},
                    "token": {"type": "string"},
                    "policy_version": {"type": "integer"},
                    "choices": CHOICES,
                    "method": {"type": "string"},
                    "recorded_at": {"type": "string", "format": "date-time"},
                    "expires_at": {"type": "string", "format": "date-time"},
                },
            },
            "Decision": {
                "type": "object",
                "required": ["status", "policy_version", "choices", "tags", "consent_mode", "show_banner"],
                "properties": {
                    "status": {"type": "string", "enum": ["given", "none", "invalid", "expired", "outdated", "withdrawn"]},
                    "consent_id": {"type": ["string", "null"]},
                    "policy_version": {"type": "integer"},
                    "choices": CHOICES,
                    "tags": {"type": "object", "additionalProperties": {"type": "boolean"}},
                    "consent_mode": {"type": "object", "additionalProperties": {"type": "string", "enum": ["granted", "denied"]}},
                    "show_banner": {"type": "boolean"},
                },
            },
            "BannerConfig": {
                "type": "object",
                "properties": {
                    "site": {"type": "string"},
                    "policy_version": {"type": "integer"},
                    "lifetime_days": {"type": "integer"},
                    "language": {"type": "string"},
                    "languages": {"type": "array", "items": {"type": "string"}},
                    "texts": {"type": "object", "additionalProperties": {"type": "string"}},
                    "privacy_policy_url": {"type": ["string", "null"]},
                    "floating_button": {"type": "boolean"},
                    "colours": {"type": "object", "description": "The site's banner colours: accent, on_accent, background, text (#rrggbb), each optional.",
                                "additionalProperties": {"type": "string"}},
                    "categories": {"type": "array", "items": {"type": "object"}},
                    "services": {"type": "array", "items": {"type": "object"}},
                    "necessary_cookies": {"type": "array", "items": {"type": "object"}},
                },
            },
            "ConsentReceipt": RECEIPT_SCHEMA,
            "Health": {
                "type": "object",
                "properties": {"status": {"type": "string"}, "database": {"type": "string"}, "geoip": {"type": "string", "enum": ["ok", "missing"]}},
            },
        }
    },
}
