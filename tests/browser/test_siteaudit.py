"""The pre-consent audit against real pages (issue 22): shops on their own origins that get it
wrong in every way the issue names, the same shop done right, a crawl, the service's demo page,
and pages that try to steer the audit; the CLI with its JSON and HTML reports.

Trackers are stand-ins under their real host names (audit_sites.StandIns): the audit sees the
real URLs, cookie names and storage keys. Each case asserts the named finding with its purpose."""
from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from cookiegate.demo import ensure_demo_site
from cookiegate.extensions import db
from cookiegate.models import ConsentRecord, SiteAudit
from cookiegate.siteaudit import Options, run_audit
from cookiegate.siteaudit.knowledge import DATA
from cookiegate.siteaudit.report import render_html
from cookiegate.siteaudit.store import declaration_of
from cookiegate.sites.site import get_site

from ..support import impressions, make_site
from .audit_sites import Server, StandIns, forwarding_site, local_private_address
from .conftest import SHOP_HOST

SCHEMA = json.loads((DATA.parent / "report.schema.json").read_text())
validate = Draft202012Validator(SCHEMA).validate


def cookie_js(*cookies: str) -> str:
    return "".join(f"document.cookie = {json.dumps(c)};" for c in cookies)


# Stand-ins: what each tracker's script really writes and sends (names from the knowledge base's sources).
HOTJAR = ("static.hotjar.com", "/c/hotjar-123.js", cookie_js(
    "_hjSessionUser_123=eyJpZCI6ImEifQ; path=/; max-age=31536000; SameSite=Lax",
    "_hjSession_123=eyJpZCI6ImIifQ; path=/; max-age=1800; SameSite=Lax",
    "_hjFirstSeen=1; path=/; max-age=1800; SameSite=Lax",
) + 'navigator.sendBeacon("https://in.hotjar.com/api/v2/client/sites/123/visit-data?sv=7", "{}");')
LINKEDIN = ("snap.licdn.com", "/li.lms-analytics/insight.min.js", cookie_js("li_fat_id=5f4a2b; path=/; max-age=2592000; SameSite=Lax")
            + 'new Image().src = "https://px.ads.linkedin.com/collect?pid=1234&fmt=gif&url=" + encodeURIComponent(location.href);')
AZURE = ("js.monitor.azure.com", "/scripts/b/ai.3.gbl.min.js", cookie_js(
    "ai_user=Xy12|2026-11-30T04:00:00.000Z; path=/; max-age=31536000", "ai_session=Ab34|1|1; path=/; max-age=1800",
) + 'navigator.sendBeacon("https://dc.services.visualstudio.com/v2/track", "[]");')
META = ("connect.facebook.net", "/en_US/fbevents.js", cookie_js(
    "_fbp=fb.1.1764475200000.123456789; path=/; max-age=7776000; SameSite=Lax",
    "_fbc=fb.1.1764475200000.IwAR0abc; path=/; max-age=7776000; SameSite=Lax",
) + 'new Image().src = "https://www.facebook.com/tr?id=99887766&ev=PageView&dl=" + encodeURIComponent(location.href);')
CLARITY = ("www.clarity.ms", "/tag/abc123", cookie_js(
    "_clck=1a2b3c%7C2%7Cfr0; path=/; max-age=31536000; SameSite=Lax", "_clsk=4d5e6f%7C1764475200000; path=/; max-age=86400; SameSite=Lax",
) + 'navigator.sendBeacon("https://k.clarity.ms/collect", "x");')
BING = ("bat.bing.com", "/bat.js", cookie_js(
    "_uetsid=0a1b2c3d; path=/; max-age=86400; SameSite=Lax", "_uetvid=4e5f6a7b; path=/; max-age=33696000; SameSite=Lax",
) + 'localStorage.setItem("_uetvid", "4e5f6a7b"); new Image().src = "https://bat.bing.com/action/0?ti=5678&evt=pageLoad&mid=x";')
PINTEREST = ("s.pinimg.com", "/ct/core.js", cookie_js("_pin_unauth=dWlkPU1HVmpOek; path=/; max-age=31536000; SameSite=Lax")
             + 'new Image().src = "https://ct.pinterest.com/v3/?tid=2612345678901&event=init&cb=1";')
GTAG = ("www.googletagmanager.com", "/gtag/js", cookie_js("_ga=GA1.1.555.666; path=/; max-age=63072000; SameSite=Lax")
        + 'navigator.sendBeacon("https://region1.google-analytics.com/g/collect?v=2&tid=G-LEAK123&cid=555.666&gcs=G100&gcd=13q3q3q2q5l1&en=page_view", "");')
BEACON_HOSTS = ("in.hotjar.com", "px.ads.linkedin.com", "dc.services.visualstudio.com", "k.clarity.ms", "ct.pinterest.com", "region1.google-analytics.com")
# The pixel's own host answers with Meta's third-party cookie, which the browser refuses.
FR_COOKIE = ("Set-Cookie", "fr=0abc.def; Domain=.facebook.com; Path=/; Max-Age=7776000; Secure; SameSite=None; HttpOnly")


def script(stand_in) -> str:
    host, path, _ = stand_in
    return f'<script src="https://{host}{path}?v=1"></script>'


def held_back(stand_in, category: str) -> str:
    host, path, _ = stand_in
    return f'<script type="text/plain" data-cookiegate="{category}" src="https://{host}{path}?v=1"></script>'


@pytest.fixture(scope="session")
def stand_ins(tmp_path_factory):
    server = StandIns(tmp_path_factory.mktemp("stand-ins"))
    for host, path, body in (HOTJAR, LINKEDIN, AZURE, META, CLARITY, BING, PINTEREST, GTAG):
        server.add(host, path, body)
    server.add("www.facebook.com", "/tr", "", content_type="image/gif", headers=[FR_COOKIE])
    server.serve(*BEACON_HOSTS)
    yield server
    server.close()


@pytest.fixture
def audit_options(stand_ins):
    """How the tests run the audit: short waits, the shop and the stand-ins mapped here, nothing else resolves."""

    def make(*extra_rules: str, **options) -> Options:
        rules = [f"MAP {SHOP_HOST} 127.0.0.1", "MAP metrics.shop.test 127.0.0.1", *extra_rules, *stand_ins.rules(), "MAP * ~NOTFOUND"]
        return Options(dwell=0.6, idle_timeout=3, chromium_args=("--host-resolver-rules=" + ", ".join(rules), "--ignore-certificate-errors"), **options)

    return make


def by_name(report) -> dict:
    return {p["name"]: p for p in report["passes"]}


def distinct(report) -> dict:
    return {(f["kind"], f["name"]): f for f in report["findings"]}


def assert_nothing_recorded(shop) -> None:
    assert shop.records() == []
    assert shop.impressions() == 0


# ---------------------------------------------------------------- 1, 6: known trackers are findings, counted once


def test_trackers_the_open_cookie_database_calls_functional_fail_with_their_purpose_counted_once(shop, stand_ins, audit_options):
    url = shop.page(head=script(HOTJAR) + script(LINKEDIN) + script(AZURE)
                    + "<script>" + cookie_js("muxData=mux_viewer_id=1; path=/; max-age=31536000") + "</script>")
    report = run_audit(url, options=audit_options()).report
    validate(report)
    assert report["verdict"] == "fail"
    found = distinct(report)
    expected = {
        "_hjSessionUser_123": ("hotjar", "statistics", "Hotjar"),
        "_hjSession_123": ("hotjar", "statistics", "Hotjar"),
        "_hjFirstSeen": ("hotjar", "statistics", "Hotjar"),
        "li_fat_id": ("linkedin-insight", "marketing", "LinkedIn"),
        "ai_user": ("azure-application-insights", "statistics", "Azure Application Insights"),
        "ai_session": ("azure-application-insights", "statistics", "Azure Application Insights"),
    }
    for name, (tracker, category, product) in expected.items():
        finding = found[("cookie", name)]
        assert (finding["tracker"], finding["category"], finding["classified_by"]) == (tracker, category, "knowledge-base"), name
        assert product in finding["provider"] and finding["purpose"]["en"] and finding["purpose"]["da"], name
        assert finding["passes"] == ["no_choice", "rejected", "rejected_token"], name
        assert finding["evidence"]["party"] == "first"
        host, path, _ = {"hotjar": HOTJAR, "linkedin-insight": LINKEDIN, "azure-application-insights": AZURE}[tracker]
        assert finding["evidence"]["set_by"] == f"https://{host}{path}", name
        assert 'data-cookiegate="' in finding["how_to_fix"]["en"] and "data-cookiegate" in finding["how_to_fix"]["da"]
    # Known only to the Open Cookie Database as "Functional": not strictly necessary, a finding that says so.
    mux = found[("cookie", "muxData")]
    assert (mux["category"], mux["classified_by"]) == ("functional", "open-cookie-database")
    assert "Wistia" in mux["purpose"]["en"] and "not the same as strictly necessary" in mux["purpose"]["en"]
    # Their beacons and pixels are findings too.
    assert found[("request", "https://in.hotjar.com/api/v2/client/sites/123/visit-data")]["beacons"] == 1
    assert found[("request", "https://px.ads.linkedin.com/collect")]["pixels"] == 1
    # Counted once: the headline is the distinct findings, not one per pass.
    per_pass = sum(len(p["findings"]) for p in report["passes"] if p["name"] != "accepted") + sum(
        len(t["findings"]) for t in report["token_check"]["passes"] if t["name"] == "rejected")
    assert report["summary"]["distinct_findings"] == len(report["findings"]) == len(found)
    assert per_pass >= 3 * len(found) - 3 > len(found)
    assert report["summary"]["by_pass"]["no_choice"] == len([f for f in report["findings"] if "no_choice" in f["passes"]])
    assert_nothing_recorded(shop)


# ---------------------------------------------------------------- 2, 5: first-party tracker cookies; what the jar holds


def test_first_party_tracker_cookies_are_named_and_refused_third_party_cookies_are_not_reported_as_set(shop, stand_ins, audit_options):
    url = shop.page(head=script(META) + script(CLARITY) + script(BING) + script(PINTEREST),
                    body='<script>document.cookie = "ghost=1; domain=example.com; path=/";</script>'
                         '<iframe title="px" src="https://www.facebook.com/tr?id=99887766&ev=PageView&noscript=1"></iframe>')
    report = run_audit(url, options=audit_options()).report
    validate(report)
    found = distinct(report)
    expected = {"_fbp": "Meta", "_fbc": "Meta", "_clck": "Clarity", "_clsk": "Clarity", "_uetsid": "Bing", "_uetvid": "Bing", "_pin_unauth": "Pinterest"}
    for name, vendor in expected.items():
        finding = found[("cookie", name)]
        assert finding["category"] in ("statistics", "marketing") and finding["party"] == "first", name
        assert vendor in finding["provider"] + finding["purpose"]["en"], name
        assert finding["host"] == SHOP_HOST
    assert found[("cookie", "_clck")]["category"] == "statistics" and found[("cookie", "_pin_unauth")]["category"] == "marketing"
    assert found[("storage", "_uetvid")]["tracker"] == "microsoft-advertising"
    assert found[("request", "https://bat.bing.com/action/0")]["pixels"] == 1
    # The site declares the Meta pixel: _fbp is reported as declared, with the knowledge base's purpose.
    assert found[("cookie", "_fbp")]["classified_by"] == "declaration" and "Meta" in found[("cookie", "_fbp")]["purpose"]["en"]

    no_choice = by_name(report)["no_choice"]["observed"]
    # Chromium refused Meta's third-party cookie and a cookie for another domain: listed as refused, never as set.
    assert all(c["name"] not in ("fr", "ghost") for c in no_choice["cookies"])
    assert ("cookie", "fr") not in found and ("cookie", "ghost") not in found
    refused = {c["name"]: c for c in no_choice["refused_cookies"]}
    assert "third-party" in refused["fr"]["reason"] and refused["fr"]["how"] == "http"
    assert refused["ghost"]["reason"] == "refused by the browser when the script wrote it"
    # The pixel that offered it is a finding all the same.
    pixel = found[("request", "https://www.facebook.com/tr")]
    assert (pixel["tracker"], pixel["category"]) == ("meta-pixel", "marketing") and pixel["count"] >= 2
    assert_nothing_recorded(shop)


# ---------------------------------------------------------------- 3: requests by URL pattern, each listed


def test_first_party_proxies_and_server_side_tags_are_caught_by_their_url_and_listed_without_query_values(shop, website, audit_options):
    metrics = f"http://metrics.shop.test:{website.port}"
    url = shop.page(body=(
        "<script>"
        f'navigator.sendBeacon("{metrics}/g/collect?v=2&tid=G-PROXY1&cid=111.222&en=page_view", "");'
        'new Image().src = "/tr?id=42&ev=PageView&ud=abc";'
        'fetch("/matomo.php?idsite=3&rec=1&_id=0123456789abcdef");'
        'fetch("/api/cart");'
        "</script>"))
    report = run_audit(url, options=audit_options()).report
    validate(report)
    found = distinct(report)
    ga = found[("request", f"{metrics}/g/collect")]
    assert (ga["tracker"], ga["category"], ga["party"], ga["beacons"]) == ("google-analytics", "statistics", "first", 1)
    assert ga["matched"] == "URL pattern /g/collect?v&tid"
    meta = found[("request", f"{website.origin}/tr")]
    assert (meta["tracker"], meta["category"], meta["pixels"]) == ("meta-pixel", "marketing", 1)
    assert "first-party proxy" in meta["how_to_fix"]["en"]
    assert found[("request", f"{website.origin}/matomo.php")]["tracker"] == "matomo"
    # Each tracker request is listed with its URL, query values cut.
    assert ga["evidence"]["samples"] == [f"{metrics}/g/collect?v=…&tid=…&cid=…&en=…"]
    assert "111.222" not in json.dumps(report) and "0123456789abcdef" not in json.dumps(report)
    # The shop's own requests are not trackers and are not listed.
    listed = {r["url"] for r in by_name(report)["no_choice"]["observed"]["requests"]}
    assert f"{website.origin}/api/cart" not in listed
    assert_nothing_recorded(shop)


# ---------------------------------------------------------------- 4: a banner that cannot record a choice fails


def test_a_banner_whose_choices_the_service_refuses_fails_with_a_plain_reason(app, live_server, audit_options):
    # A shop that serves the service through its own origin (a first-party proxy), registered
    # with another origin: the banner shows, every consent is refused 403 origin_not_allowed.
    site = make_site(origins=["https://shop.example.dk"])
    shop = forwarding_site(live_server.url)
    try:
        origin = f"http://127.0.0.1:{shop.server_address[1]}"
        shop.pages["/"] = (
            f'<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Forkert oprindelse</title>'
            f'<script src="{origin}/cookiegate/banner/v1/cookiegate.js" data-site="{site.key}" async></script></head>'
            "<body><h1>Butik</h1></body></html>"
        ).encode(), "text/html; charset=utf-8"
        report = run_audit(origin + "/", options=audit_options()).report
    finally:
        shop.shutdown()
        shop.server_close()
    validate(report)
    passes = by_name(report)
    reason = "the service refused the choice: this page's origin is not one of the site's origins"
    for name, action in (("rejected", "reject_all"), ("accepted", "accept_all")):
        choice = passes[name]["choice"]
        assert (choice["action"], choice["recorded"], choice["status"], choice["code"], choice["cookie"]) == (action, False, 403, "origin_not_allowed", False)
        assert choice["reason"] == reason and passes[name]["error"] == reason and passes[name]["verdict"] == "fail"
    # Nothing leaked; the refused choices alone fail the audit.
    assert passes["no_choice"]["verdict"] == "pass" and report["findings"] == []
    assert report["verdict"] == "fail"
    html = render_html(report, {}, "en")
    assert "The click was not recorded: " + reason in html.replace("&#39;", "'")


# ---------------------------------------------------------------- 7, 8: who set it; evidence a DPO can file


def test_the_cli_writes_evidence_and_credits_scripts_the_banner_released(shop, stand_ins, audit_options, app, tmp_path, browser):
    inline = '<script type="text/plain" data-cookiegate="statistics">' + cookie_js("held_inline=1; path=/; max-age=3600") + "</script>"
    # A site may call its cookies anything; the reports show that as text.
    hostile = '<script>document.cookie = "<script>alert(1)<\\/script>=1; path=/";</script>'
    url = shop.page(head=held_back(HOTJAR, "statistics") + inline + script(LINKEDIN) + hostile,
                    Set_Cookie="shop_pref=blue; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict")
    json_file, html_file = tmp_path / "audit.json", tmp_path / "audit.html"
    options = audit_options()
    result = app.test_cli_runner().invoke(args=[
        "cookiegate", "audit", url, "--site", shop.key, "--json", str(json_file), "--html", str(html_file), "--lang", "en",
        *[arg for flag in options.chromium_args for arg in ("--chromium-arg", flag)],
    ])
    assert result.exit_code == 1, result.output
    report = json.loads(json_file.read_text())
    validate(report)
    assert "Verdict: FAIL" in result.output and "cookie li_fat_id" in result.output and "distinct finding(s)" in result.output
    found = distinct(report)
    # The page's own cookie from its HTTP answer, with everything a DPO files.
    pref = found[("cookie", "shop_pref")]
    evidence = pref["evidence"]
    assert (evidence["http_only"], evidence["same_site"], evidence["secure"], evidence["party"], evidence["domain"]) == (True, "Strict", False, "first", SHOP_HOST)
    assert 31_535_000 < evidence["lifetime_seconds"] <= 31_536_000 and evidence["expires"].endswith("Z")
    assert evidence["set_by"] == f"HTTP response from {url}" and evidence["how"] == "http"
    assert pref["how_to_fix"]["en"].startswith("If this cookie is strictly necessary") and "nødvendig" in pref["how_to_fix"]["da"]
    assert all(f["how_to_fix"]["en"] and f["how_to_fix"]["da"] for f in report["findings"])
    # Scripts the banner released after "Accept all" are credited to the release, not to cookiegate.js.
    accepted = {c["name"]: c for c in by_name(report)["accepted"]["observed"]["cookies"]}
    assert accepted["held_inline"]["set_by"] == 'released by the banner after consent: inline script (data-cookiegate="statistics")'
    assert accepted["_hjSessionUser_123"]["set_by"] == (
        'released by the banner after consent: https://static.hotjar.com/c/hotjar-123.js (data-cookiegate="statistics")')
    assert ("cookie", "_hjSessionUser_123") not in found  # held back: only after consent
    # Tool, browser, OS, times and the command line.
    env = report["environment"]
    assert env["browser"].startswith("Chromium ") and env["os"] and env["playwright"] and env["tool_version"] == "2.0"
    assert env["command_line"][:6] == ["flask", "--app", "wsgi", "cookiegate", "audit", url] and "--site" in env["command_line"]
    assert report["started_at"] <= report["finished_at"]
    # --site: the tokens are signed here, and the five passes run at the same time.
    assert report["token_check"]["done"] and len(report["token_check"]["passes"]) == 2
    timings = [p["timing"] for p in report["passes"] + report["token_check"]["passes"]]
    assert max(t["start"] for t in timings) < min(t["end"] for t in timings)
    # Kept in the site's history.
    db.session.rollback()
    assert [(a.verdict, a.url) for a in db.session.execute(select(SiteAudit)).scalars()] == [("fail", url)]

    # The HTML report in English, and the same report in Danish.
    english = html_file.read_text()
    danish = render_html(report, {}, "da")
    assert '<html lang="en">' in english and "What needs consent and ran anyway" in english and "How to fix" in english
    assert '<html lang="da">' in danish and "Det, der kræver samtykke, men kørte alligevel" in danish and "Sådan rettes det" in danish
    for html in (english, danish):
        assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = browser.new_page()
    try:
        page.goto(html_file.as_uri())
        assert page.locator("[data-verdict=fail]").get_attribute("data-distinct") == str(len(report["findings"]))
        assert page.locator("[data-findings] tr[data-name=li_fat_id]").inner_text().count("LinkedIn") >= 1
        assert "--site" in page.locator("[data-environment]").inner_text()
    finally:
        page.close()
    assert_nothing_recorded(shop)


# ---------------------------------------------------------------- 9: the page cannot steer the audit


def test_a_page_on_this_machine_cannot_make_the_audit_reach_link_local_addresses_or_leave_its_origin(shop, audit_options):
    secret = Server("127.0.0.1")
    try:
        url = shop.page(
            head=f'<meta http-equiv="refresh" content="0;url=http://127.0.0.1:{secret.port}/secret">',
            body='<iframe title="x" src="http://169.254.169.254/latest/meta-data/"></iframe>'
                 '<script>fetch("http://169.254.169.254/latest/api/token", {method: "PUT"}).catch(() => {});</script>')
        report = run_audit(url, options=audit_options()).report
    finally:
        secret.close()
    validate(report)
    assert secret.hits == []  # the refresh to another origin was not followed
    blocked = by_name(report)["no_choice"]["blocked"]
    reasons = {b["target"]: b["reason"] for b in blocked}
    for target in ("http://169.254.169.254/latest/meta-data/", "http://169.254.169.254/latest/api/token"):
        assert reasons[target] == "169.254.169.254 is a link-local address (the audited site is loopback)"
    assert reasons[f"http://127.0.0.1:{secret.port}/secret"] == "a navigation to another origin: not followed"
    # A page that sends the browser elsewhere cannot be audited as it stands: a plain failure, and no
    # screenshot of whatever the browser shows instead.
    first = by_name(report)["no_choice"]
    assert first["error"] == (f"the page tried to take the browser to http://127.0.0.1:{secret.port}/secret, another origin; "
                              "the audit does not follow it (audit that address instead)")
    assert first["screenshots"] == [] and report["verdict"] == "fail"
    assert any("blocked" in w for w in report["warnings"])
    assert report["environment"]["address_policy"] == {"audited": "loopback", "allowed": ["loopback", "public"]}


@pytest.fixture
def private_address():
    address = local_private_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback to serve a non-loopback site from")
    return address


def test_a_redirect_from_a_non_loopback_site_to_this_machine_is_blocked_and_nothing_is_shown_under_its_name(audit_options, private_address):
    site = Server(private_address)
    secret = Server("127.0.0.1")
    secret.add("127.0.0.1", "/secret", "<h1>internal admin</h1>", content_type="text/html")
    try:
        host = "www.public-shop.test"
        site.add(host, "/go", "", content_type="text/html", status=302, headers=[("Location", f"http://127.0.0.1:{secret.port}/secret")])
        site.add(host, "/page", f'<h1>Shop</h1><iframe title="x" src="http://127.0.0.1:{secret.port}/secret"></iframe>'
                                f'<script>fetch("http://127.0.0.1:{secret.port}/secret").catch(() => {{}});</script>', content_type="text/html")
        options = audit_options(f"MAP {host} {private_address}")
        redirected = run_audit(f"http://{host}:{site.port}/go", options=options).report
        framed = run_audit(f"http://{host}:{site.port}/page", options=options).report
    finally:
        site.close()
        secret.close()
    validate(redirected)
    validate(framed)
    assert secret.hits == []
    for report in (redirected, framed):
        assert report["environment"]["address_policy"]["audited"] in ("private", "public")
        assert "loopback" not in report["environment"]["address_policy"]["allowed"]
    first = by_name(redirected)["no_choice"]
    assert first["error"].startswith(f"the page sent the browser to http://127.0.0.1:{secret.port}/secret, another origin")
    assert first["screenshots"] == [] and redirected["verdict"] == "fail"
    assert any(b["target"] == f"http://127.0.0.1:{secret.port}/secret" and "loopback address" in b["reason"] for b in first["blocked"])
    # A page that stays on its origin: the internal frame and fetch are blocked, the page itself is shown under its own address.
    page = by_name(framed)["no_choice"]
    assert [b["reason"].split(" (")[0] for b in page["blocked"]] == ["127.0.0.1 is a loopback address"] * len(page["blocked"]) and page["blocked"]
    assert page["screenshots"][0]["final_url"] == f"http://{host}:{site.port}/page"


def test_the_service_named_by_the_page_gets_only_quoted_keys_and_a_file_url_is_never_read(shop, website, audit_options, app):
    recorder = Server("127.0.0.1")
    try:
        # Pages whose only embed tag names another service (no cookiegate banner of the shop's own).
        tricky = website.add("/tricky", f'<!doctype html><title>x</title><script src="http://127.0.0.1:{recorder.port}/banner/v1/cookiegate.js"'
                                        ' data-site="../../admin/x?y#z"></script><h1>Shop</h1>')
        local_file = website.add("/file", '<!doctype html><title>x</title><script src="file:///etc/passwd#/banner/v1/cookiegate.js" data-site="x">'
                                          "</script><h1>Shop</h1>")
        steered = run_audit(tricky, options=audit_options()).report
        own_requests = [(method, path) for method, _, path in recorder.hits if path.startswith("/api/")]
        reading = run_audit(local_file, options=audit_options()).report
        # With --site the audit signs its tokens here and asks nothing of the page's service.
        recorder.hits.clear()
        result = app.test_cli_runner().invoke(args=["cookiegate", "audit", tricky, "--site", shop.key,
                                                    *[a for f in audit_options().chromium_args for a in ("--chromium-arg", f)]])
    finally:
        recorder.close()
    validate(steered)
    validate(reading)
    key = "..%2F..%2Fadmin%2Fx%3Fy%23z"
    assert own_requests == [("GET", f"/api/v1/sites/{key}/config"), ("POST", f"/api/v1/sites/{key}/consents")]
    assert "the service gave no token" in steered["token_check"]["error"]
    assert reading["token_check"]["error"].startswith("the page has no usable cookiegate embed tag")
    assert "the page's embed tag names a service at file: (ignored: only http and https)" in reading["warnings"]
    assert "root:" not in json.dumps(reading) and reading["service"] is None
    assert result.exit_code in (0, 1), result.output
    assert [hit for hit in recorder.hits if hit[2].startswith("/api/")] == []
    assert "token check: not done" not in result.output and "rejected (token)" in result.output


# ---------------------------------------------------------------- the rest: done right, crawl, demo


def test_a_shop_that_waits_for_consent_passes_and_the_accepted_check_shows_the_trackers(shop, stand_ins, audit_options):
    url = shop.page(head=held_back(HOTJAR, "statistics") + held_back(META, "marketing"),
                    body='<iframe title="px" data-cookiegate="marketing" data-src="https://www.facebook.com/tr?id=99887766&ev=PageView&noscript=1"></iframe>',
                    Set_Cookie="XSRF-TOKEN=t0k3n; Path=/; SameSite=Lax")
    report = run_audit(url, options=audit_options()).report
    validate(report)
    passes = by_name(report)
    assert report["verdict"] == "pass", json.dumps(report["findings"], indent=1)
    assert report["findings"] == [] and report["summary"]["distinct_findings"] == 0
    assert passes["rejected"]["choice"]["recorded"] and passes["accepted"]["choice"]["recorded"]
    assert passes["rejected"]["choice"]["status"] == 201
    xsrf = next(c for c in passes["no_choice"]["observed"]["cookies"] if c["name"] == "XSRF-TOKEN")
    assert (xsrf["category"], xsrf["classified_by"]) == ("necessary", "necessary-list") and "CSRF" in xsrf["purpose"]["en"]
    consent = next(c for c in passes["rejected"]["observed"]["cookies"] if c["name"] == "cookiegate")
    assert consent["category"] == "necessary" and consent["set_by"].endswith(("/banner/v1/choice.js", "/banner/v1/cookiegate.js"))
    accepted = {(f["kind"], f["name"]) for f in passes["accepted"]["findings"]}
    assert {("cookie", "_hjSessionUser_123"), ("cookie", "_fbp"), ("request", "https://www.facebook.com/tr")} <= accepted
    check = {t["name"]: t for t in report["token_check"]["passes"]}
    assert check["rejected"]["same"] and check["rejected"]["verdict"] == "pass"
    assert ("cookie", "_hjSessionUser_123") in {(f["kind"], f["name"]) for f in check["accepted"]["findings"]}
    assert_nothing_recorded(shop)


def test_the_crawl_follows_same_origin_links_that_robots_txt_allows(shop, website, audit_options):
    website.add("/robots.txt", "User-agent: cookiegate-audit\nDisallow: /crawl/private\n", content_type="text/plain")
    links = (
        '<a href="/crawl/a">a</a> <a href="/crawl/private/x">private</a> <a href="http://elsewhere.test/">other</a>'
        ' <a href="/crawl/a#top">a again</a> <a href="/crawl/file.pdf">pdf</a> <a href="/crawl/b">b</a> <a href="/crawl/c">c</a>'
    )
    start = shop.page(body=links, path="/crawl/")
    for path in ("/crawl/a", "/crawl/c", "/crawl/private/x"):
        shop.page(path=path, body='<a href="/crawl/">home</a>')
    shop.page(path="/crawl/b", body='<script>sessionStorage.setItem("ab_test_bucket", "B")</script>')
    report = run_audit(start, options=audit_options(pages=2)).report
    validate(report)
    origin = website.origin
    assert report["pages"] == [start, origin + "/crawl/a", origin + "/crawl/b"]
    assert {"url": origin + "/crawl/private/x", "reason": "robots.txt disallows it"} in report["skipped"]
    assert all(p["pages"] == report["pages"] for p in report["passes"])
    finding = distinct(report)[("storage", "ab_test_bucket")]
    assert (finding["host"], finding["category"], finding["pages"]) == (SHOP_HOST, "unclassified", [origin + "/crawl/b"])
    assert finding["passes"] == ["no_choice", "rejected", "rejected_token"]
    assert_nothing_recorded(shop)


def test_the_demo_page_passes_and_the_audit_leaves_no_trace(app, live_server, audit_options):
    site, _ = ensure_demo_site()
    site.origins = [*site.origins, live_server.url]
    db.session.commit()
    report = run_audit(live_server.url + "/demo/", options=audit_options()).report
    validate(report)
    assert report["verdict"] == "pass", json.dumps(report["findings"], indent=1)
    assert [p["verdict"] for p in report["passes"]] == ["pass", "pass", "pass"]
    assert report["token_check"]["done"] and all(t["same"] for t in report["token_check"]["passes"])
    assert declaration_of(get_site(site.key)).entries
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(ConsentRecord)).scalar_one() == 0
    assert impressions() == {}
