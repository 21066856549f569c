"""Config, impressions, CORS, the banner files, health and the OpenAPI description."""
from __future__ import annotations

import gzip
import json
import os
import re

import brotli
import pytest
from openapi_spec_validator import validate

from cookiegate.banner import AssetCache
from cookiegate.extensions import db
from cookiegate.models import Site, StatsImpression
from cookiegate.sites.banner_config import content_hash, public_config

from .support import impressions

ORIGIN = "https://shop.example.dk"


# --- config -------------------------------------------------------------------------------

def test_config_carries_texts_categories_services_and_cookies(client, site):
    config = client.get(f"/api/v1/sites/{site.key}/config?lang=da").get_json()
    assert config["site"] == site.key and config["policy_version"] == 1 and config["lifetime_days"] == 365
    assert config["language"] == "da" and config["texts"]["reject_all"] == "Afvis alle"
    assert [c["slug"] for c in config["categories"]] == ["necessary", "statistics", "marketing"]
    assert [c["required"] for c in config["categories"]] == [True, False, False]
    services = {s["key"]: s for s in config["services"]}
    assert services["google_analytics"]["category"] == "statistics"
    assert services["google_analytics"]["settings"] == {"measurement_id": "G-TEST1234"}
    assert {c["name"] for c in services["google_analytics"]["cookies"]} == {"_ga", "_ga_TEST1234"}  # what GA4 sets; no _gid
    assert services["facebook_pixel"]["category"] == "marketing"
    assert {c["name"] for c in services["facebook_pixel"]["cookies"]} == {"_fbp", "_fbc"}
    ga_cookie = next(c for c in services["google_analytics"]["cookies"] if c["name"] == "_ga")
    assert ga_cookie["expiry"] == "2 år" and ga_cookie["purpose"]
    assert config["necessary_cookies"][0]["name"] == "cookiegate"


@pytest.mark.parametrize(
    "requested,expected",
    [("en", "en"), ("en-GB", "en"), ("DA-dk", "da"), ("de", "da"), (None, "da"), ("", "da"),
     ("de-DE,en-GB,da", "en"), ("fr,de", "da"), ("de,DA", "da")],  # a list: the first the site has
)
def test_config_language_falls_back_to_the_site_default(client, site, requested, expected):
    query = {"lang": requested} if requested else {}
    config = client.get(f"/api/v1/sites/{site.key}/config", query_string=query).get_json()
    assert config["language"] == expected


@pytest.mark.parametrize("requested", ["en,<x>", ",".join(["en"] * 11), "en,,da"])
def test_a_bad_language_list_is_refused_and_names_the_parameter(client, site, requested):
    response = client.get(f"/api/v1/sites/{site.key}/config", query_string={"lang": requested})
    assert response.status_code == 422 and "'lang'" in response.get_json()["error"]["message"]


def test_the_first_layer_config_holds_what_the_first_layer_needs_and_no_more(client, site):
    whole = client.get(f"/api/v1/sites/{site.key}/config?lang=da").get_json()
    first = client.get(f"/api/v1/sites/{site.key}/config?lang=da&layer=first")
    assert first.status_code == 200 and first.headers["ETag"] != client.get(f"/api/v1/sites/{site.key}/config?lang=da").headers["ETag"]
    first = first.get_json()
    assert set(first["texts"]) == {"title", "description", "accept_all", "reject_all", "customise", "privacy_policy", "gpc", "open"}
    assert all(first["texts"][k] == whole["texts"][k] for k in first["texts"])
    assert first["categories"] == [{"slug": c["slug"], "required": c["required"]} for c in whole["categories"]]
    assert first["services"][0] == {"kind": "google_analytics", "category": "statistics", "settings": {"measurement_id": "G-TEST1234"}, "cookies": ["_ga", "_ga_TEST1234"]}
    for key in ("policy_version", "lifetime_days", "language", "privacy_policy_url", "floating_button", "colours"):
        assert first[key] == whole[key], key
    assert len(json.dumps(first)) < len(json.dumps(whole)) / 2
    bad = client.get(f"/api/v1/sites/{site.key}/config?layer=second")
    assert bad.status_code == 422 and "'layer'" in bad.get_json()["error"]["message"]


def test_config_is_cacheable_and_answers_304_to_its_etag(client, site):
    response = client.get(f"/api/v1/sites/{site.key}/config?lang=en", headers={"Origin": ORIGIN})
    assert "public" in response.headers["Cache-Control"] and "max-age=600" in response.headers["Cache-Control"]
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response.headers["Vary"]
    again = client.get(f"/api/v1/sites/{site.key}/config?lang=en", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_config_hash_names_its_content(app, site):
    english = public_config(db.session.get(Site, site.id), "en")
    danish = public_config(db.session.get(Site, site.id), "da")
    assert content_hash(english) != content_hash(danish)
    assert content_hash(english) == content_hash(json.loads(json.dumps(english)))
    english["texts"]["title"] += "!"
    assert content_hash(english) != content_hash(public_config(db.session.get(Site, site.id), "en"))


@pytest.mark.parametrize("encoding,decode", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_config_is_compressed_when_the_client_accepts_it(client, site, encoding, decode):
    plain = client.get(f"/api/v1/sites/{site.key}/config?lang=da")
    packed = client.get(f"/api/v1/sites/{site.key}/config?lang=da", headers={"Accept-Encoding": encoding})
    assert packed.headers["Content-Encoding"] == encoding and "Accept-Encoding" in packed.headers["Vary"]
    assert len(packed.data) < len(plain.data) / 2
    assert decode(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = client.get(f"/api/v1/sites/{site.key}/config?lang=da", headers={"Accept-Encoding": encoding, "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304


# --- impressions ---------------------------------------------------------------------------

def test_impressions_are_counted_per_day_without_identifiers(client, site):
    for _ in range(3):
        response = client.post(f"/api/v1/sites/{site.key}/impressions", headers={"Origin": ORIGIN})
        assert response.status_code == 204
    assert client.post(f"/api/v1/sites/{site.key}/impressions", data=b"{}", headers={"Origin": ORIGIN}).status_code == 204
    assert impressions(site.id) == {"": 4}
    columns = set(StatsImpression.__table__.columns.keys())
    assert columns == {"id", "site_id", "dim", "grain", "bucket", "value", "count"}


# --- CORS ----------------------------------------------------------------------------------

def test_preflight_is_answered_for_the_sites_own_origin(client, site):
    response = client.options(
        f"/api/v1/sites/{site.key}/decision",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-cookiegate-token"},
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Cookiegate-Token" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_preflight_from_a_foreign_origin_gets_no_cors_headers(client, site):
    response = client.options(
        f"/api/v1/sites/{site.key}/consents", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "origin_not_allowed"
    assert not any(h.startswith("Access-Control-Allow") for h in response.headers.keys())


def test_get_from_a_foreign_origin_is_not_readable_by_it(client, site):
    response = client.get(f"/api/v1/sites/{site.key}/config", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_origins_match_without_regard_to_case_or_default_port(client, app):
    from .support import make_site

    site = make_site(["HTTPS://Shop.Example.DK:443/"])
    assert site.origins == ["https://shop.example.dk"]
    response = client.get(f"/api/v1/sites/{site.key}/decision", headers={"Origin": "https://shop.example.dk"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example.dk"


# --- banner files --------------------------------------------------------------------------

@pytest.fixture
def banner_file(app, tmp_path):
    """A banner directory of our own, so the serving mechanism is tested apart from the banner itself."""
    path = tmp_path / "cookiegate.js"
    path.write_text("".join(f"function f{i}(a){{return document.querySelectorAll('[data-x=\"{i}\"]').length+a}}\n" for i in range(200)))
    app.extensions["cookiegate.banner"] = AssetCache(tmp_path)
    return path


def test_banner_is_served_with_etag_long_cache_and_304(client, banner_file):
    response = client.get("/banner/v1/cookiegate.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert "max-age=604800" in response.headers["Cache-Control"] and "public" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    again = client.get("/banner/v1/cookiegate.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/banner/v1/cookiegate.js", headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("encoding,decode", [("br", brotli.decompress), ("gzip", gzip.decompress)])
def test_banner_is_compressed_when_the_client_accepts_it(client, banner_file, encoding, decode):
    plain = client.get("/banner/v1/cookiegate.js").data
    response = client.get("/banner/v1/cookiegate.js", headers={"Accept-Encoding": f"{encoding}, identity;q=0.5"})
    assert response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert len(response.data) < len(plain)
    assert decode(response.data) == plain
    etag = response.headers["ETag"]
    assert etag != client.get("/banner/v1/cookiegate.js").headers["ETag"]
    assert client.get("/banner/v1/cookiegate.js", headers={"Accept-Encoding": encoding, "If-None-Match": etag}).status_code == 304


def test_a_changed_banner_file_is_served_at_once_with_a_new_etag(client, banner_file):
    before = client.get("/banner/v1/cookiegate.js")
    banner_file.write_text("console.log('v2')")
    os.utime(banner_file, ns=(before_ns := banner_file.stat().st_mtime_ns + 10**9, before_ns))
    after = client.get("/banner/v1/cookiegate.js")
    assert after.data == b"console.log('v2')" and after.headers["ETag"] != before.headers["ETag"]


def test_banner_path_traversal_and_unknown_files_are_404(client, banner_file):
    for path in ("/banner/v1/../../cookiegate/config.py", "/banner/v1/%2e%2e/%2e%2e/wsgi.py", "/banner/v1/nothing.js", "/banner/v1/.hidden"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


# --- health and OpenAPI --------------------------------------------------------------------

def test_healthz_reports_database_and_geoip(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    # The test app points at a location database that does not exist (test_geo.py covers "ok").
    assert body == {"status": "ok", "database": "ok", "geoip": "missing"}


def test_healthz_is_503_when_the_database_is_down(make_app, tmp_path):
    # A SQLite path inside a missing directory: the database cannot be opened.
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_openapi_is_valid_and_describes_every_public_route(client, app):
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    documented = set(spec["paths"])
    public = {
        re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)  # <consent_id:consent_id> is {consent_id}
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(("api.", "health."))
    }
    assert public <= documented, public - documented
