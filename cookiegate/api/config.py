"""GET /api/v1/sites/<key>/config: the banner's config for one language (cacheable)."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from flask import Response, current_app, g, request
from pydantic import BaseModel, Field, StringConstraints

from ..infra.compression import respond
from . import bp
from .common import ALLOW_ORIGIN, LANGUAGE_TAG, UNAVAILABLE, UNKNOWN_SITE, CategorySlug, checked, error
from .contract import Answer, Header, Parameters, operation

# One tag or up to 10 in order of preference; empty (the banner sends that when the page names no
# language it can use) means the site's default.
LANGUAGES = rf"^$|^{LANGUAGE_TAG}(,{LANGUAGE_TAG}){{0,9}}$"


class ConfigQuery(Parameters):
    lang: Annotated[str, StringConstraints(max_length=359, pattern=LANGUAGES)] = Field(
        None, description="One language tag or up to 10 in order of preference (`da-DK,en`); the first the site has "
        "is chosen, else (or when empty) the site's default.")
    layer: Literal["first"] = Field(
        None, description="`first`: only what the banner's first layer needs; the whole config when left out.")
    MESSAGES = {
        "lang": "'lang' must be a language tag such as 'da' or 'en-GB', or up to 10 of them separated by commas.",
        "layer": "'layer' must be 'first' (or left out for the whole config).",
    }


class Category(BaseModel):
    slug: CategorySlug
    name: str
    description: str
    required: bool


class Service(BaseModel):
    key: str
    kind: str
    name: str
    provider: Optional[str] = None
    category: CategorySlug
    description: Optional[str] = None
    settings: Optional[dict[str, Any]] = None
    cookies: list[dict[str, str]]


Colour = Annotated[str, StringConstraints(pattern="^#[0-9a-fA-F]{6}$")]


class BannerConfig(BaseModel):
    site: str
    policy_version: int
    lifetime_days: int = Field(ge=1)
    language: str
    languages: list[str]
    texts: dict[str, str]
    privacy_policy_url: Optional[str] = None
    floating_button: Optional[bool] = None
    colours: dict[str, Colour] = Field(
        None, description="The site's banner colours: accent, on_accent, background, text (#rrggbb), each optional.")
    categories: list[Category]
    services: list[Service]
    necessary_cookies: list[dict[str, str]]


class FirstLayerCategory(BaseModel):
    slug: CategorySlug
    required: bool


class FirstLayerService(BaseModel):
    kind: str
    category: CategorySlug
    settings: Optional[dict[str, Any]] = None
    cookies: list[str]


class FirstLayerConfig(BaseModel):
    """`layer=first`: what a first-time visitor's banner needs before the settings are opened."""

    policy_version: int
    lifetime_days: int = Field(ge=1)
    language: str
    texts: dict[str, str]
    privacy_policy_url: Optional[str] = None
    floating_button: Optional[bool] = None
    colours: Optional[dict[str, str]] = None
    categories: list[FirstLayerCategory]
    services: list[FirstLayerService]


@bp.get("/sites/<site_key>/config")
@operation(
    summary="Banner config for one language",
    description="`lang`: one language tag or up to 10 in order of preference (`da-DK,en`); the first the site has "
    "is chosen, else the site's default. `layer=first`: only what the banner's first layer needs (the first layer's "
    "texts, category slugs, services' kinds, settings and cookie names); the whole config otherwise.",
    query=ConfigQuery,
    preflight=True,
    answers={
        200: Answer(
            "Texts, categories, services with their cookies, policy version. Cacheable; gzip or br when asked.",
            (BannerConfig, FirstLayerConfig),
            headers={
                "ETag": Header("Names this exact content.", {"type": "string"}),
                "Cache-Control": Header("Public, for COOKIEGATE_CONFIG_MAX_AGE seconds.", {"type": "string"}),
                "Access-Control-Allow-Origin": ALLOW_ORIGIN,
            },
        ),
        304: Answer("Not modified (If-None-Match matched the ETag)."),
        404: UNKNOWN_SITE,
        422: error("`invalid_request`: `lang` is not a language tag (or a list of at most 10), or `layer` is not `first`."),
        503: UNAVAILABLE,
    },
)
def site_config(site_key: str) -> Response:
    query = checked(ConfigQuery, request.args)
    language = g.site.language_for(query.lang or None)
    if query.layer:
        bodies, tag = g.site.first_layer_bodies[language], "f" + g.site.first_layer_hashes[language][:31]
    else:
        bodies, tag = g.site.config_bodies[language], g.site.config_hashes[language][:32]
    response = respond(request, bodies, "application/json", tag)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["COOKIEGATE_CONFIG_MAX_AGE"]
    return response.make_conditional(request)
