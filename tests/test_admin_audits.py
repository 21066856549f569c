"""A site's pre-consent audits in the console: the history (newest first, paginated) and one
audit with its findings per pass and the declaration difference against the site's current
declaration; readable by admins and the site's own users, escaped, Danish and English."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import jsonschema
import pytest

from cookiegate.admin import site_audits
from cookiegate.extensions import db
from cookiegate.siteaudit.store import save_audit
from cookiegate.sites import catalogue
from cookiegate.sites.site import create_site

from .admin_support import Console, audit_report, make_user, old_audit_report

ADMIN = "admin@example.dk"
HOSTILE = '<script>alert("x")</script>"\'><img src=x onerror=alert(1)>'
SCHEMA = json.loads((Path(__file__).parents[1] / "cookiegate" / "siteaudit" / "report.schema.json").read_text())


def keep(site, report, minutes_ago: int = 0):
    audit = save_audit(site, report)
    audit.created_at = dt.datetime(2026, 11, 30, 4, 0, tzinfo=dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    db.session.commit()
    return audit


def test_the_sample_report_is_a_report_as_the_audit_writes_it():
    jsonschema.validate(audit_report(), SCHEMA)


def test_the_history_is_newest_first_with_each_passs_verdict_and_finding_count(app, site):
    old = keep(site, {**audit_report("https://shop.example.dk/gammel"), "verdict": "pass"}, minutes_ago=60)
    new = keep(site, audit_report(pages=3), minutes_ago=0)
    other = create_site("Other", ["https://other.example.dk"])
    keep(other, audit_report("https://other.example.dk/"))
    rows, total = site_audits.history(site)
    assert total == 2 and [r["id"] for r in rows] == [new.id, old.id]
    first = rows[0]
    assert (first["url"], first["pages"], first["verdict"]) == ("https://shop.example.dk/", 3, "fail")
    assert first["passes"] == [
        {"name": "no_choice", "verdict": "fail", "findings": 2},
        {"name": "rejected", "verdict": "pass", "findings": 0},
        {"name": "accepted", "verdict": "pass", "findings": 2},
    ]
    assert rows[1]["verdict"] == "pass"


def test_the_history_is_paginated(app, site):
    ids = [keep(site, audit_report(), minutes_ago=n).id for n in range(5)]
    first, total = site_audits.history(site, page=1, per_page=2)
    third, _ = site_audits.history(site, page=3, per_page=2)
    assert total == 5 and [r["id"] for r in first] == ids[:2] and [r["id"] for r in third] == ids[4:]
    assert site_audits.history(site, page=4, per_page=2)[0] == []


def test_one_audit_shows_its_findings_per_pass(app, site):
    audit = keep(site, audit_report(leak="_hjSessionUser_1"))
    shown = site_audits.detail(site, audit.id)
    by_pass = {p["name"]: p for p in shown["passes"]}
    assert [p["name"] for p in shown["passes"]] == ["no_choice", "rejected", "accepted"]
    assert by_pass["no_choice"]["findings"][1] == {
        "kind": "cookie", "name": "_hjSessionUser_1", "host": "shop.example.dk", "category": "unclassified", "page": "https://shop.example.dk/",
        "provider": "", "purpose": "Not known: nobody has said it is necessary.", "how_to_fix": 'Hold back the script with data-cookiegate="statistics".',
    }
    assert shown["distinct"] == 2
    assert site_audits.detail(site, audit.id, "da")["passes"][0]["findings"][1]["purpose"] == "Ukendt: ingen har sagt, at den er nødvendig."
    assert by_pass["rejected"]["findings"] == [] and by_pass["rejected"]["verdict"] == "pass"
    assert by_pass["accepted"]["findings"][1]["kind"] == "request"
    assert shown["pages_list"] == ["https://shop.example.dk/", "https://shop.example.dk/side-1"]


def test_the_declaration_difference_is_against_the_declaration_as_it_is_now(app, site):
    audit = keep(site, audit_report(leak="_hjSessionUser_1"))
    diff = site_audits.detail(site, audit.id)["declaration"]
    assert [(d["kind"], d["name"]) for d in diff["undeclared"]] == [("cookie", "_hjSessionUser_1")]
    unseen = {d["name"] for d in diff["unseen"]}
    # The site declares Google Analytics and the Meta pixel: _ga was seen, the pixel's _fbp was not.
    assert "_fbp" in unseen and "_ga" not in unseen
    # The owner declares the cookie: the same audit now shows nothing undeclared.
    service = catalogue.add_service(site, {"name": "Hotjar", "category": "statistics"}, "test")
    catalogue.add_cookie(service, {"name": "_hjSessionUser_*"}, "test")
    db.session.commit()
    after = site_audits.detail(site, audit.id)
    assert after["declaration"]["undeclared"] == []
    assert after["declaration_then"] == {"undeclared": 1, "unseen": 0}
    # And the audit's own copy of the report is untouched.
    assert audit.report["declaration"]["undeclared"][0]["name"] == "_hjSessionUser_1"


def test_another_sites_audit_and_a_damaged_report_are_handled(app, site):
    other = create_site("Other", ["https://other.example.dk"])
    theirs = keep(other, audit_report("https://other.example.dk/"))
    assert site_audits.detail(site, theirs.id) is None
    assert site_audits.detail(site, 999_999) is None
    # A report missing most of its fields (an older or hand-made one) still shows what it has.
    damaged = save_audit(site, {"url": "https://shop.example.dk/", "verdict": "fail", "passes": [{"name": "no_choice", "findings": [{"name": 5}]}]})
    db.session.commit()
    shown = site_audits.detail(site, damaged.id)
    assert shown["passes"][0]["findings"][0]["name"] == "5" and shown["declaration"]["undeclared"] == []
    assert site_audits.history(site)[0][0]["pages"] == 0


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def console(app):
    make_user(ADMIN, "admin")
    return Console(app.test_client(), ADMIN).login()


def test_admins_and_the_sites_users_read_the_history_others_get_403(app, site, console):
    audit = keep(site, audit_report())
    other = create_site("Other", ["https://other.example.dk"])
    db.session.commit()
    make_user("own@example.dk", "marketer", [site])
    make_user("stranger@example.dk", "marketer", [other])
    own = Console(app.test_client(), "own@example.dk").login()
    stranger = Console(app.test_client(), "stranger@example.dk").login()
    paths = [f"/admin/sites/{site.key}/audits", f"/admin/sites/{site.key}/audits/{audit.id}"]
    for path in paths:
        assert console.get(path).status_code == 200, path
        assert own.get(path).status_code == 200, path
        forbidden = stranger.get(path)
        assert forbidden.status_code == 403 and "text/html" in forbidden.content_type, path
        anonymous = app.test_client().get(path)
        assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]
    # The site's user sees the audits and none of the console's admin links; the rest stays 403.
    page = own.get(paths[0]).text
    assert f"/admin/sites/{site.key}/services" not in page and "/admin/users/" not in page
    assert own.get(f"/admin/sites/{site.key}/").status_code == 403
    assert own.get(f"/admin/sites/{other.key}/audits").status_code == 403
    # The dashboard leads the site's users to the history; the console's site menu too.
    assert f'href="/admin/sites/{site.key}/audits"' in own.get(f"/dashboard/{site.key}/").text
    assert f'href="/admin/sites/{site.key}/audits"' in console.get(f"/admin/sites/{site.key}/").text


def test_the_history_and_an_audit_render_with_a_strict_policy(console, site):
    audit = keep(site, audit_report())
    listing = console.get(f"/admin/sites/{site.key}/audits")
    assert f'<tr data-audit="{audit.id}" data-verdict="fail">' in listing.text
    assert f'href="/admin/sites/{site.key}/audits/{audit.id}"' in listing.text
    for path in (f"/admin/sites/{site.key}/audits", f"/admin/sites/{site.key}/audits/{audit.id}"):
        page = console.get(path)
        policy = page.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy
        assert "<script>" not in page.text and " style=" not in page.text
    detail = console.get(f"/admin/sites/{site.key}/audits/{audit.id}").text
    assert '<tr data-undeclared-name="_hjSessionUser_1">' in detail and '<tr data-unseen-name="_fbp">' in detail
    assert console.get(f"/admin/sites/{site.key}/audits/999999").status_code == 404
    assert console.get(f"/admin/sites/{site.key}/audits?page=x").status_code == 200


def test_hostile_cookie_names_and_urls_from_a_report_are_shown_escaped(console, site):
    report = audit_report("https://shop.example.dk/?q=" + HOSTILE, leak=HOSTILE)
    report["pages"].append("javascript:alert(1)//" + HOSTILE)
    audit = keep(site, report)
    for path in (f"/admin/sites/{site.key}/audits", f"/admin/sites/{site.key}/audits/{audit.id}"):
        html = console.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html, path
        assert 'href="javascript:' not in html
    detail = console.get(f"/admin/sites/{site.key}/audits/{audit.id}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#34;&#39;&gt;&lt;img src=x onerror=alert(1)&gt;" in detail
    assert re.search(r'data-undeclared-name="&lt;script&gt;[^"]*"', detail)


def test_danish_and_english(console, site):
    audit = keep(site, audit_report())
    da = console.get(f"/admin/sites/{site.key}/audits/{audit.id}?lang=da").text
    en = console.get(f"/admin/sites/{site.key}/audits/{audit.id}?lang=en").text
    assert "Set, men ikke deklareret" in da and "Før noget valg" in da and "Ikke bestået" in da
    assert "Seen but not declared" in en and "Before any choice" in en and "Failed" in en
    assert "Ingen" not in console.get(f"/admin/sites/{site.key}/audits?lang=en").text


def test_reports_written_before_issue_22_still_show(console, site):
    audit = keep(site, old_audit_report())
    shown = site_audits.detail(site, audit.id, "da")
    assert shown["distinct"] is None and shown["verdict"] == "pass"
    assert shown["passes"][2]["findings"] == [{"kind": "cookie", "name": "_hjid", "host": "shop.example.dk", "category": "necessary",
                                               "page": "https://shop.example.dk/", "provider": "", "purpose": "", "how_to_fix": ""}]
    for path in (f"/admin/sites/{site.key}/audits", f"/admin/sites/{site.key}/audits/{audit.id}"):
        assert console.get(path).status_code == 200, path
    assert "data-distinct" not in console.get(f"/admin/sites/{site.key}/audits/{audit.id}").text


def test_a_refused_click_and_the_purposes_show_in_the_readers_language(console, site):
    report = audit_report()
    report["passes"][1]["choice"] = {"action": "reject_all", "recorded": False, "status": 403, "code": "origin_not_allowed", "cookie": False,
                                     "reason": "the service refused the choice: this page's origin is not one of the site's origins"}
    report["passes"][1]["error"] = "the banner's button did not work"
    audit = keep(site, report)
    da = console.get(f"/admin/sites/{site.key}/audits/{audit.id}?lang=da").text
    en = console.get(f"/admin/sites/{site.key}/audits/{audit.id}?lang=en").text
    assert "Måler besøg til Google Analytics." in da and "Formål" in da and "Sådan rettes det" in da and "2 forskellige fund" in da
    assert "Measures visits for Google Analytics." in en and "How to fix" in en and 'data-distinct="2"' in en
    assert "this page&#39;s origin is not one of the site&#39;s origins" in en
