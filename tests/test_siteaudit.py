"""The pre-consent audit without a browser: classification (the declaration, the knowledge base, the
reviewed necessary list, the Open Cookie Database), findings and their wording, the address rules
and the audit's proxy, the tokens `--site` signs, the audit's agent at the service.
(tests/browser/test_siteaudit.py runs real audits; tests/test_siteaudit_knowledge.py checks the data.)"""
from __future__ import annotations

import asyncio
import csv
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from cookiegate.extensions import db
from cookiegate.infra.signing import signer
from cookiegate.infra.useragent import classify, parse_agent
from cookiegate.models import ConsentRecord, Site
from cookiegate.siteaudit.addresses import AddressPolicy, NotResolved, Resolver, address_class, parse_rules, split_chromium_args
from cookiegate.siteaudit.audit import registrable_domain, service_of
from cookiegate.siteaudit.classify import DATA, Declaration, classify_cookie, classify_request, classify_storage, open_cookie_database
from cookiegate.siteaudit.crawl import cut_query, fetch_json, parse_set_cookie, set_by_text, strip_query, tag_request, user_agent
from cookiegate.siteaudit.proxy import AuditProxy
from cookiegate.siteaudit.report import consent_mode, distinct_findings, findings_of, lifetime_words, render_html
from cookiegate.siteaudit.store import declaration_of, preset_tokens
from cookiegate.sites.banner_config import public_config

from .support import consent_body, impressions, post_consent

AUDIT_AGENT = user_agent("156.0.8078.108")
SHOP = "www.shop.test"


def run_async(make_coroutine, *args):
    """A coroutine on an event loop of its own thread (the browser tests' Playwright keeps one
    running in this thread), as run_audit does it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine(*args))).result()


@pytest.fixture
def declared(site) -> Declaration:
    return declaration_of(site)


def test_the_audit_agent_says_what_it_is_and_is_a_bot_the_service_recognises():
    assert "cookiegate-audit/2.0" in AUDIT_AGENT and "Chrome/156.0.0.0" in AUDIT_AGENT
    device = classify(AUDIT_AGENT, "?0", '"Linux"')
    assert device.is_bot and device.is_audit and device.device_type == "bot"
    # An ordinary headless browser is still a bot, but not the audit.
    headless = parse_agent(AUDIT_AGENT.replace("cookiegate-audit/2.0", "").replace("Chrome/", "HeadlessChrome/"))
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
    assert impressions() == {}
    assert db.session.execute(select(Site.log_seq).where(Site.id == site.id)).scalar_one() == 0
    # Everyone else is logged as before, crawlers included; a person's impression is counted.
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    assert post_consent(client, site.key, headers={"User-Agent": googlebot}).status_code == 201
    client.post(f"/api/v1/sites/{site.key}/impressions", data="{}", headers={"Origin": "https://shop.example.dk", "User-Agent": googlebot})
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(ConsentRecord)).scalar_one() == 1
    assert impressions() == {}  # a crawler is no audience for the statistics either
    client.post(f"/api/v1/sites/{site.key}/impressions", data="{}", headers={"Origin": "https://shop.example.dk", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"})
    db.session.rollback()
    assert impressions() == {"": 1}


def test_the_audit_is_told_about_a_changed_policy_like_anyone(client, site):
    answer = post_consent(client, site.key, consent_body(policy_version=7), headers={"User-Agent": AUDIT_AGENT})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "policy_version_changed"


def test_the_tokens_site_signs_are_real_consents_that_leave_no_record(app, site):
    tokens = preset_tokens(site)
    rejected, accepted = (signer().verify(tokens[name]) for name in ("rejected", "accepted"))
    assert rejected.site_key == accepted.site_key == site.key and rejected.consent_id != accepted.consent_id
    assert rejected.granted == {"necessary"} and accepted.granted == {"necessary", "statistics", "marketing"}
    assert rejected.policy_version == site.policy_version and not rejected.withdrawn
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(ConsentRecord)).scalar_one() == 0


# ---------------------------------------------------------------- classification


def test_the_open_cookie_database_alone_never_makes_a_cookie_necessary():
    """Its 'Functional' (Hotjar's _hjSession_*, LinkedIn's li_giant, ai_user …) is not strictly
    necessary: only the site's declaration and the reviewed list may say so."""
    nothing = Declaration()
    necessary_by_ocd = []
    with (DATA / "cookies.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row["name"].rstrip("*") + ("x" if row["wildcard"] == "1" else "")
            found = classify_cookie(name, "www.shop.test", nothing)
            if found.category == "necessary" and found.source == "open-cookie-database":
                necessary_by_ocd.append(name)
    assert necessary_by_ocd == []
    for name in ("_hjSessionUser_123", "_hjSession_123", "_hjFirstSeen", "_hjIncludedInSessionSample_1", "_hjTLDTest"):
        found = classify_cookie(name, SHOP, nothing)
        assert (found.category, found.source, found.tracker) == ("statistics", "knowledge-base", "hotjar"), name
    assert classify_cookie("li_giant", SHOP, nothing).category == "marketing"
    assert classify_cookie("ai_user", SHOP, nothing).tracker == "azure-application-insights"
    # What only the Open Cookie Database knows keeps its own words and needs consent.
    mux = classify_cookie("muxData", SHOP, nothing)
    assert (mux.category, mux.source, mux.provider) == ("functional", "open-cookie-database", "Wistia")
    assert mux.purpose["en"] == "Wistia: Functional (Open Cookie Database)"
    assert classify_cookie("sidebarPinned", SHOP, nothing).category == "preferences"


def test_first_party_tracker_cookies_are_known_by_name_whatever_the_domain():
    nothing = Declaration()
    for name, tracker in {"_fbp": "meta-pixel", "_fbc": "meta-pixel", "_clck": "microsoft-clarity", "_clsk": "microsoft-clarity",
                          "_uetsid": "microsoft-advertising", "_uetvid": "microsoft-advertising", "_pin_unauth": "pinterest-tag",
                          "_ga": "google-analytics", "_ga_ABC123": "google-analytics", "_gcl_au": "google-ads"}.items():
        found = classify_cookie(name, "shop.example.dk", nothing)
        assert (found.tracker, found.source) == (tracker, "knowledge-base"), name
        assert found.purpose["en"] and found.purpose["da"] != found.purpose["en"]
    # A generic name is a tracker's only on its own domain (Adform's uid), else it is the site's.
    assert classify_cookie("uid", "track.adform.net", nothing, first_party=False).tracker == "adform"
    assert classify_cookie("uid", SHOP, nothing).source == "none"


def test_the_reviewed_list_passes_first_party_necessary_cookies_only():
    nothing = Declaration()
    for name in ("PHPSESSID", "XSRF-TOKEN", "csrftoken", "AWSALB", "__cf_bm", "CookieConsent", "OptanonConsent", "BIGipServerpool_web"):
        found = classify_cookie(name, SHOP, nothing)
        assert (found.category, found.source) == ("necessary", "necessary-list"), name
        assert found.purpose["en"] and found.purpose["da"]
    # The same name set by someone else's frame is no necessity of this site.
    assert classify_cookie("PHPSESSID", "widgets.example.net", nothing, first_party=False).category != "necessary"
    assert classify_storage("uc_settings", SHOP, nothing).source == "necessary-list"
    assert classify_cookie("cookiegate", SHOP, nothing).source == "cookiegate"
    assert classify_storage("cookiegate:shop", SHOP, nothing).source == "cookiegate"


def test_the_sites_declaration_comes_before_the_databases_but_cannot_make_a_tracker_necessary(site):
    declared = declaration_of(site)
    ga = classify_cookie("_ga", "shop.example.dk", declared)
    assert (ga.source, ga.category, ga.tracker) == ("declaration", "statistics", "google-analytics") and "Google" in ga.purpose["en"]
    assert classify_cookie("_ga_ABC123", "shop.example.dk", declared).category == "statistics"
    # The site marks statistics required: its own cookies pass, a known tracker does not.
    site.categories[1].required = True
    db.session.commit()
    required = Declaration.from_config(public_config(site, "da"), "database")
    assert "statistics" in required.required
    tracked = classify_cookie("_ga", "shop.example.dk", required)
    assert tracked.source == "knowledge-base" and not tracked.necessary(required)
    assert "declares it necessary" in tracked.note or "declares it statistics" in tracked.note
    own = Declaration(source="database", required=frozenset({"necessary", "statistics"}),
                      entries=list(required.entries) + [type(required.entries[0])("shop_ab", "statistics", "declaration")])
    assert classify_cookie("shop_ab", "shop.example.dk", own).necessary(own)


def test_requests_are_judged_by_url_pattern_on_any_host_then_by_host(declared):
    ga = classify_request("https://sgtm.shop.example.dk/g/collect?v=2&tid=G-1&cid=1", declared)
    assert (ga.tracker, ga.category, ga.matched) == ("google-analytics", "statistics", "URL pattern /g/collect?v&tid")
    meta = classify_request("https://shop.example.dk/tr?id=1&ev=PageView", declared)
    assert (meta.tracker, meta.category) == ("meta-pixel", "marketing")
    assert classify_request("https://shop.example.dk/tr", declared).category == "unclassified"  # no pixel id, no event: a page
    assert classify_request("https://static.hotjar.com/c/hotjar-1.js?sv=7", declared).matched == "host hotjar.com"
    assert classify_request("https://stats.g.doubleclick.net/g/collect?v=2&tid=G-1", declared).tracker == "google-analytics"
    assert classify_request("https://consent.example.dk/api/v1/x", declared, ("consent.example.dk",)).category == "necessary"
    assert classify_request("https://fonts.example-cdn.net/font.woff2", declared).category == "unclassified"


def test_findings_are_everything_outside_necessary_but_not_unknown_hosts(declared):
    def item(name, category, by="none", **extra):
        return {"name": name, "host": SHOP, "page": "/", "category": category, "classified_by": by, "url": "https://x/" + name,
                "party": "first", "purpose": None, "provider": "", "count": 1, "beacons": 1, "pixels": 0, **extra}

    observed = {
        "cookies": [item("cookiegate", "necessary", "cookiegate"), item("_ga", "statistics", "declaration"), item("visitor_ref", "unclassified"),
                    item("muxData", "functional", "open-cookie-database", purpose={"en": "Wistia: Functional (Open Cookie Database)", "da": "Wistia"})],
        "storage": [item("cookiegate:shop", "necessary", "cookiegate"), item("uid", "unclassified")],
        "requests": [item("cdn", "unclassified"), item("ga", "statistics", "knowledge-base", provider="Google: Google Analytics")],
        "tag_requests": [], "iframes": [],
    }
    found = findings_of(observed, declared)
    assert [(f["kind"], f["name"], f["category"]) for f in found] == [
        ("cookie", "_ga", "statistics"), ("cookie", "visitor_ref", "unclassified"), ("cookie", "muxData", "functional"),
        ("storage", "uid", "unclassified"), ("request", "https://x/ga", "statistics"),
    ]
    fixes = {f["name"]: f["how_to_fix"] for f in found}
    assert "declare it in the console under 'necessary'" in fixes["visitor_ref"]["en"] and "konsollen" in fixes["visitor_ref"]["da"]
    assert 'data-cookiegate="statistics"' in fixes["https://x/ga"]["en"] and "first-party proxy" in fixes["https://x/ga"]["en"]
    assert "not the same as strictly necessary" in found[2]["purpose"]["en"]
    assert found[1]["purpose"]["en"].startswith("Not known")
    assert found[4]["beacons"] == 1


def test_each_finding_counts_once_with_the_passes_it_appeared_in():
    def finding(name):
        return {"kind": "cookie", "name": name, "host": SHOP, "category": "statistics", "page": "/p"}

    def entry(name, *names):
        return {"name": name, "findings": [finding(n) for n in names], "observed": {"cookies": [{"name": n, "host": SHOP} for n in names]}}

    passes = [entry("no_choice", "_ga", "_hjid"), entry("rejected", "_ga"), entry("accepted", "_ga", "_fbp")]
    out = distinct_findings(passes, [entry("rejected", "_ga"), entry("accepted", "_fbp")])
    assert [(f["name"], f["passes"]) for f in out] == [("_ga", ["no_choice", "rejected", "rejected_token"]), ("_hjid", ["no_choice"])]


# ---------------------------------------------------------------- what the recorder keeps


def test_urls_keep_no_query_values_and_tag_requests_only_the_consent_mode_parameters():
    google = tag_request("https://region1.google-analytics.com/g/collect?v=2&tid=G-ABC&cid=123.456&gcs=G100&gcd=13l3l3l2l1&en=page_view")
    assert google == {"vendor": "google", "url": "https://region1.google-analytics.com/g/collect", "id": "G-ABC", "event": "page_view", "gcs": "G100", "gcd": "13l3l3l2l1"}
    meta = tag_request("https://www.facebook.com/tr?id=42&ev=PageView&noscript=1")
    assert (meta["vendor"], meta["id"], meta["event"]) == ("meta", "42", "PageView")
    assert tag_request("https://cdn.example.net/lib.js") is None
    assert strip_query("https://www.shop.test/p?email=a@b.dk#x") == "https://www.shop.test/p"
    assert cut_query("https://x.test/g/collect?v=2&cid=123.456&uid=a%40b.dk#f") == "https://x.test/g/collect?v=…&cid=…&uid=…"
    assert consent_mode("G100") == "ads denied, analytics denied (G100)"
    assert consent_mode("G101") == "ads denied, analytics granted (G101)"


def test_set_cookie_lines_tell_a_deletion_from_a_cookie():
    assert parse_set_cookie("sid=1; Path=/; Domain=.shop.test; HttpOnly") == ("sid", "shop.test", False)
    assert parse_set_cookie("_ga=; max-age=0; path=/")[2] is True
    assert parse_set_cookie("old=x; Expires=Thu, 01 Jan 1970 00:00:00 GMT")[2] is True
    assert parse_set_cookie("keep=x; Max-Age=3600")[2] is False


def test_who_set_a_cookie_in_words():
    page = "https://www.shop.test/kurv?x=1"
    assert set_by_text(["released", "", 'data-cookiegate="statistics"'], page)[1] == 'released by the banner after consent: inline script (data-cookiegate="statistics")'
    assert set_by_text(["released", "https://static.hotjar.com/c/h.js?sv=7", 'data-cookiegate="statistics"'], page)[1].endswith("https://static.hotjar.com/c/h.js (data-cookiegate=\"statistics\")")
    assert set_by_text(["script", "https://cdn.test/a.js?k=1", ""], page)[1] == "https://cdn.test/a.js"
    assert set_by_text(["inline", "", ""], page)[1] == "inline script in https://www.shop.test/kurv"
    assert "the banner released inline scripts" in set_by_text(["nourl", "", "released-inline-present"], page)[1]
    assert lifetime_words(None, "da") == "session" and lifetime_words(34_000_000, "en") == "13 months" and lifetime_words(63_072_000, "da") == "2 år"


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

    schema = json.loads((DATA.parent / "report.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert set(schema["$defs"]["pass"]["properties"]["name"]["enum"]) == {"no_choice", "rejected", "accepted"}


def test_the_report_texts_exist_in_danish_and_english_alike():
    texts = {lang: json.loads((DATA.parent / "texts" / f"{lang}.json").read_text()) for lang in ("da", "en")}

    def keys(tree, prefix=""):
        return {prefix + k for k, v in tree.items() for k in ([k] if not isinstance(v, dict) else [k + "." + s for s in keys(v)])}

    assert keys(texts["da"]) == keys(texts["en"])
    old = {"url": "https://shop.example.dk/", "verdict": "fail", "passes": [], "token_check": {"passes": [], "error": "x"},
           "declaration": {"source": "none", "undeclared": [], "unseen": []}, "pages": [], "started_at": "2026-01-01T00:00:00Z",
           "duration_seconds": 1, "user_agent": "a", "warnings": []}
    assert "Cookie-revision" in render_html(old, {}, "da")  # a report from before issue 22 still renders
    with pytest.raises(ValueError):
        render_html(old, {}, "de")


# ---------------------------------------------------------------- what the page cannot make the audit do


def test_address_classes_and_which_the_audit_may_reach():
    classes = {a: address_class(a) for a in ("8.8.8.8", "127.0.0.1", "127.8.9.10", "0.0.0.0", "::1", "::ffff:127.0.0.1", "10.1.2.3",
                                              "192.168.1.1", "100.64.0.1", "fd00::1", "169.254.169.254", "fe80::1", "224.0.0.1")}
    assert classes == {"8.8.8.8": "public", "127.0.0.1": "loopback", "127.8.9.10": "loopback", "0.0.0.0": "loopback", "::1": "loopback",
                       "::ffff:127.0.0.1": "loopback", "10.1.2.3": "private", "192.168.1.1": "private", "100.64.0.1": "private",
                       "fd00::1": "private", "169.254.169.254": "link-local", "fe80::1": "link-local", "224.0.0.1": "reserved"}
    public = AddressPolicy.for_audited(["93.184.216.34"])
    assert public.refusal(["8.8.8.8"]) is None
    assert public.refusal(["127.0.0.1"]) == "127.0.0.1 is a loopback address (the audited site is public)"
    assert public.refusal(["8.8.8.8", "10.0.0.1"]).startswith("10.0.0.1 is a private address")  # every address of a name counts
    intranet = AddressPolicy.for_audited(["10.0.0.5"])
    assert intranet.refusal(["10.9.9.9"]) is None and intranet.refusal(["127.0.0.1"]) and intranet.refusal(["169.254.169.254"])
    assert AddressPolicy.for_audited(["127.0.0.1"]).refusal(["169.254.169.254"]).startswith("169.254.169.254 is a link-local address")


def test_host_resolver_rules_are_applied_as_chromium_would():
    kept, rules = split_chromium_args(["--lang=da", "--host-resolver-rules=MAP *.shop.test 127.0.0.1, MAP t.test 10.0.0.1:8443, MAP * ~NOTFOUND, EXCLUDE localhost"])
    assert kept == ["--lang=da"]
    resolver = Resolver.from_rules(rules)

    async def resolve(host, port):
        return await resolver.resolve(host, port)

    assert run_async(resolve, "www.shop.test", 8080) == (["127.0.0.1"], 8080)
    assert run_async(resolve, "t.test", 443) == (["10.0.0.1"], 8443)
    assert run_async(resolve, "127.0.0.2", 80) == (["127.0.0.2"], 80)
    with pytest.raises(NotResolved):
        run_async(resolve, "www.google.com", 443)
    with pytest.raises(ValueError):
        parse_rules("MAP")


def test_the_service_a_page_names_must_be_http(app):
    assert service_of({"src": "https://consent.example.dk/x/banner/v1/cookiegate.js?v=2", "site": "k"}) == ("https://consent.example.dk/x", None)
    for src in ("file:///etc/passwd#/banner/v1/cookiegate.js", "javascript:alert(1)//banner/v1/cookiegate.js", "data:text/plain,/banner/v1/cookiegate.js"):
        service, warning = service_of({"src": src, "site": "k"})
        assert service is None and "ignored: only http and https" in warning
    assert registrable_domain("www.shop.example.dk") == "example.dk" and registrable_domain("127.0.0.1") == "127.0.0.1"
    with pytest.raises(ValueError):
        fetch_json("file:///etc/passwd", AUDIT_AGENT, 5, "http://127.0.0.1:9")


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits.append(self.path)
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_audits_proxy_connects_only_where_the_policy_allows(local_service):
    url = f"http://127.0.0.1:{local_service.server_address[1]}"

    async def through(policy):
        refused = []
        proxy = AuditProxy(Resolver(), policy, refused.append)
        proxy_url = await proxy.start()
        try:
            outcome = []
            for path in ("/config", "/moved"):
                try:
                    outcome.append(await asyncio.to_thread(fetch_json, url + path, AUDIT_AGENT, 5, proxy_url))
                except Exception as error:  # noqa: BLE001
                    outcome.append(str(error))
            return outcome, refused
        finally:
            await proxy.close()

    # A public site may not reach this machine: refused by the proxy, never connected.
    outcome, refused = run_async(through, AddressPolicy.for_audited(["93.184.216.34"]))
    assert local_service.hits == [] and all("403" in o for o in outcome)
    assert [r.reason for r in refused] == ["127.0.0.1 is a loopback address (the audited site is public)"] * 2
    # A site on this machine may, but a redirect is never followed.
    outcome, refused = run_async(through, AddressPolicy.for_audited(["127.0.0.1"]))
    assert outcome[0] == {"ok": True} and "redirect to http://169.254.169.254/latest/meta-data/ not followed" in outcome[1]
    assert local_service.hits == ["/config", "/moved"] and refused == []


def test_the_cli_says_clearly_when_the_audit_cannot_run(runner):
    not_web = runner.invoke(args=["cookiegate", "audit", "ftp://shop.example.dk/"])
    assert not_web.exit_code == 2 and "not a web page address" in not_web.output
    unknown = runner.invoke(args=["cookiegate", "audit", "https://shop.example.dk/", "--site", "nosuchsite"])
    assert unknown.exit_code == 2 and "no site with key 'nosuchsite'" in unknown.output
    proxied = runner.invoke(args=["cookiegate", "audit", "https://shop.example.dk/", "--chromium-arg", "--proxy-server=http://p:3128"])
    assert proxied.exit_code == 2 and "its own proxy" in proxied.output
    bad_rules = runner.invoke(args=["cookiegate", "audit", "https://shop.example.dk/", "--chromium-arg", "--host-resolver-rules=SEND all"])
    assert bad_rules.exit_code == 2 and "not a host resolver rule" in bad_rules.output
    assert runner.invoke(args=["cookiegate", "audit", "https://shop.example.dk/", "--lang", "de"]).exit_code == 2


def test_a_missing_chromium_is_named_with_the_way_to_install_it():
    from cookiegate.siteaudit import AuditError, Options, run_audit

    with pytest.raises(AuditError, match="make chromium"):
        run_audit("http://127.0.0.1:9/", options=Options(chromium="/nonexistent/chromium"))
