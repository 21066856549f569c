"""The pre-consent audit without a browser: classification, findings, the audit's agent at the service,
the shipped Open Cookie Database copy. (tests/browser/test_siteaudit.py runs real audits.)"""
from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import func, select

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord, ImpressionCount, Site
from cookiegate.siteaudit.classify import DATA, Declaration, classify_host, classify_name, open_cookie_database
from cookiegate.siteaudit.crawl import parse_set_cookie, strip_query, tag_request, user_agent
from cookiegate.siteaudit.report import consent_mode, findings_of
from cookiegate.siteaudit.store import declaration_of
from cookiegate.sites import public_config
from cookiegate.useragent import classify, parse_agent

from .support import consent_body, post_consent

AUDIT_AGENT = user_agent("156.0.8078.108")


@pytest.fixture
def declared(site) -> Declaration:
    return declaration_of(site)


def test_the_audit_agent_says_what_it_is_and_is_a_bot_the_service_recognises():
    assert "cookiegate-audit/1.0" in AUDIT_AGENT and "Chrome/156.0.0.0" in AUDIT_AGENT
    device = classify(AUDIT_AGENT, "?0", '"Linux"')
    assert device.is_bot and device.is_audit and device.device_type == "bot"
    # An ordinary headless browser is still a bot, but not the audit.
    headless = parse_agent(AUDIT_AGENT.replace("cookiegate-audit/1.0", "").replace("Chrome/", "HeadlessChrome/"))
    assert headless.is_bot and not headless.is_audit


def test_consents_and_impressions_from_the_audit_are_answered_but_neither_logged_nor_counted(client, site):
    answer = post_consent(client, site.key, consent_body(method="reject_all", choices={}), headers={"User-Agent": AUDIT_AGENT})
    assert answer.status_code == 201
    token = answer.get_json()["token"]
    decision = client.get(f"/api/v1/sites/{site.key}/decision", headers={"X-Cookiegate-Token": token}).get_json()
    assert decision["status"] == "given"
    assert decision["choices"] == {"necessary": True, "statistics": False, "marketing": False}
    withdrawn = client.post(
        f"/api/v1/sites/{site.key}/consents/{answer.get_json()['consent_id']}/withdraw",
        json={"token": token}, headers={"User-Agent": AUDIT_AGENT},
    )
    assert withdrawn.status_code == 201
    impression = client.post(f"/api/v1/sites/{site.key}/impressions", data="{}", headers={"Origin": "https://shop.example.dk", "User-Agent": AUDIT_AGENT})
    assert impression.status_code == 204
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(ConsentRecord)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(ImpressionCount)).scalar_one() == 0
    assert db.session.execute(select(Site.log_seq).where(Site.id == site.id)).scalar_one() == 0
    # Everyone else is logged and counted as before, crawlers included.
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert post_consent(client, site.key, headers={"User-Agent": googlebot}).status_code == 201
    client.post(f"/api/v1/sites/{site.key}/impressions", data="{}", headers={"Origin": "https://shop.example.dk", "User-Agent": googlebot})
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(ConsentRecord)).scalar_one() == 1
    assert db.session.execute(select(func.sum(ImpressionCount.count))).scalar_one() == 1


def test_the_audit_is_told_about_a_changed_policy_like_anyone(client, site):
    answer = post_consent(client, site.key, consent_body(policy_version=7), headers={"User-Agent": AUDIT_AGENT})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "policy_version_changed"


def test_the_sites_declaration_comes_first(declared):
    assert classify_name("_ga", "shop.example.dk", declared).source == "declaration"
    assert classify_name("_ga_ABC123", "shop.example.dk", declared).category == "statistics"
    assert classify_name("_fbp", "shop.example.dk", declared).category == "marketing"
    assert classify_name("cookiegate", "shop.example.dk", declared).category == "necessary"


def test_the_open_cookie_database_classifies_what_the_site_does_not_declare():
    nothing = Declaration()
    exact = classify_name("_ga", "www.shop.test", nothing)
    assert (exact.category, exact.source, exact.provider) == ("statistics", "open-cookie-database", "Google Analytics")
    # Wildcard entries match by prefix; the longest prefix wins (_gac_gb_ is Google Ads, not _gac_).
    assert classify_name("_ga_XYZ987", "www.shop.test", nothing).category == "statistics"
    assert classify_name("_gac_gb_123", "www.shop.test", nothing).provider == "Google Ads"
    assert classify_name("XSRF-TOKEN", "www.shop.test", nothing).category == "necessary"  # Security
    assert classify_name("PHPSESSID", "www.shop.test", nothing).category == "necessary"  # Functional
    assert classify_name("sidebarPinned", "x.test", nothing).category == "preferences"  # Personalization
    # An entry that names its domain matches only there: a site's own "sessionid" is not Instagram's.
    assert classify_name("sessionid", "www.instagram.com", nothing).category == "marketing"
    assert classify_name("sessionid", "www.shop.test", nothing).category == "unclassified"
    assert classify_name("visitor_ref", "www.shop.test", nothing).category == "unclassified"
    assert classify_name("cookiegate:shop", "www.shop.test", nothing).category == "necessary"  # the banner's own


def test_requests_are_classified_by_declared_services_then_known_tag_hosts(declared):
    assert classify_host("www.googletagmanager.com", declared).source == "declaration"
    assert classify_host("connect.facebook.net", declared).category == "marketing"
    assert classify_host("bat.bing.com", declared) .source == "known tag host"
    assert classify_host("consent.example.dk", declared, ("consent.example.dk",)).category == "necessary"
    assert classify_host("fonts.example-cdn.net", declared).category == "unclassified"


def test_findings_are_everything_outside_necessary_and_unclassified_storage_but_not_unknown_hosts(declared):
    def item(name, category, **extra):
        return {"name": name, "host": "www.shop.test", "page": "/", "category": category, "url": "https://x/" + name, **extra}

    observed = {
        "cookies": [item("cookiegate", "necessary"), item("_ga", "statistics"), item("visitor_ref", "unclassified")],
        "storage": [item("cookiegate:shop", "necessary"), item("uid", "unclassified")],
        "requests": [item("cdn", "unclassified"), item("ga", "statistics")],
        "tag_requests": [],
        "iframes": [],
    }
    kinds = [(f["kind"], f["name"], f["category"]) for f in findings_of(observed, declared)]
    assert kinds == [
        ("cookie", "_ga", "statistics"),
        ("cookie", "visitor_ref", "unclassified"),
        ("storage", "uid", "unclassified"),
        ("request", "https://x/ga", "statistics"),
    ]


def test_a_category_the_site_marks_required_counts_as_necessary(site):
    site.categories[1].required = True  # statistics, say
    db.session.commit()
    declaration = Declaration.from_config(public_config(site, "da"), "database")
    assert "statistics" in declaration.required
    assert classify_name("_ga", "shop.example.dk", declaration).necessary(declaration)


def test_tag_requests_keep_the_consent_mode_parameters_and_no_other_query():
    google = tag_request("https://region1.google-analytics.com/g/collect?v=2&tid=G-ABC&cid=123.456&gcs=G100&gcd=13l3l3l2l1&en=page_view")
    assert google == {"vendor": "google", "url": "https://region1.google-analytics.com/g/collect", "id": "G-ABC", "event": "page_view", "gcs": "G100", "gcd": "13l3l3l2l1"}
    meta = tag_request("https://www.facebook.com/tr?id=42&ev=PageView&noscript=1")
    assert (meta["vendor"], meta["id"], meta["event"]) == ("meta", "42", "PageView")
    assert tag_request("https://cdn.example.net/lib.js") is None
    assert strip_query("https://www.shop.test/p?email=a@b.dk#x") == "https://www.shop.test/p"
    assert consent_mode("G100") == "ads denied, analytics denied (G100)"
    assert consent_mode("G101") == "ads denied, analytics granted (G101)"


def test_set_cookie_lines_tell_a_deletion_from_a_cookie():
    assert parse_set_cookie("sid=1; Path=/; Domain=.shop.test; HttpOnly") == ("sid", "shop.test", False)
    assert parse_set_cookie("_ga=; max-age=0; path=/")[2] is True
    assert parse_set_cookie("old=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT")[2] is True
    assert parse_set_cookie("keep=x; Max-Age=3600")[2] is False


def test_the_open_cookie_database_copy_keeps_only_the_factual_columns_with_its_licence():
    assert "Apache License" in (DATA / "LICENSE").read_text()
    assert "Open Cookie Database" in (DATA / "NOTICE").read_text()
    with (DATA / "cookies.csv").open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == ["id", "platform", "category", "name", "domain", "retention", "controller", "privacy_portal", "wildcard"]
    exact, wildcard = open_cookie_database()
    assert len(exact) > 1500 and len(wildcard) > 200


def test_the_report_schema_is_a_valid_json_schema():
    from jsonschema import Draft202012Validator

    from cookiegate.siteaudit import report

    schema = json.loads((DATA.parent / "report.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert report.PASS_TITLES.keys() == set(schema["$defs"]["pass"]["properties"]["name"]["enum"])


def test_the_cli_says_clearly_when_the_audit_cannot_run(runner):
    not_web = runner.invoke(args=["cookiegate", "audit", "ftp://shop.example.dk/"])
    assert not_web.exit_code == 2 and "not a web page address" in not_web.output
    unknown = runner.invoke(args=["cookiegate", "audit", "https://shop.example.dk/", "--site", "nosuchsite"])
    assert unknown.exit_code == 2 and "no site with key 'nosuchsite'" in unknown.output


def test_a_missing_chromium_is_named_with_the_way_to_install_it():
    from cookiegate.siteaudit import AuditError, Options, run_audit

    with pytest.raises(AuditError, match="make chromium"):
        run_audit("https://shop.example.dk/", options=Options(chromium="/nonexistent/chromium"))
