"""A first-time visitor: one script tag on another origin, the two layers, languages, nothing run before consent."""
from __future__ import annotations

import json

import pytest

from .conftest import wait_until

HELD_BACK = (
    '<script type="text/plain" data-cookiegate="statistics">window.__ran = (window.__ran || []).concat("statistics")</script>'
    '<script type="text/plain" data-cookiegate="marketing">window.__ran = (window.__ran || []).concat("marketing")</script>'
    '<script type="text/plain" data-cookiegate="necessary">window.__necessary = 1</script>'
    '<iframe data-cookiegate="marketing" data-src="/frame" title="Kort"></iframe>'
)


def test_one_script_tag_on_another_origin_shows_three_equal_buttons_in_danish(shop, visitor):
    # The tag exactly as the issue shows it: no async, no defer, in <head>.
    page = visitor.goto(shop.page(attrs=""))
    banner = visitor.banner()
    banner.wait_for(state="visible")
    assert page.evaluate("location.origin") != shop.service
    assert banner.locator("h2").inner_text() == "Vi bruger cookies"
    buttons = [banner.locator(f"[data-cookiegate-action={a}]") for a in ("accept_all", "reject_all", "customise")]
    assert [b.inner_text() for b in buttons] == ["Accepter alle", "Afvis alle", "Tilpas"]
    boxes = [b.bounding_box() for b in buttons]
    assert len({round(b["width"]) for b in boxes}) == 1 and len({round(b["height"]) for b in boxes}) == 1
    styles = [b.evaluate("e => { const s = getComputedStyle(e); return [s.fontWeight, s.fontSize, s.backgroundColor, s.color] }") for b in buttons]
    assert styles.count(styles[0]) == 3, styles
    assert banner.get_attribute("role") == "dialog"
    assert banner.locator("a").get_attribute("href") == shop.website.origin + "/privatliv"


@pytest.mark.parametrize(
    "attrs, lang, locale, expected",
    [
        ('async data-lang="en"', "da", "da-DK", "We use cookies"),  # data-lang first
        ("async", "en", "da-DK", "We use cookies"),  # then <html lang>
        ("async", "da-DK", "en-GB", "Vi bruger cookies"),  # a region still matches the language
        ("async", None, "en-GB", "We use cookies"),  # then the browser
        ("async", "de", "en-US", "We use cookies"),  # a language the site lacks falls through to the browser
        ("async", "de", "de-DE", "Vi bruger cookies"),  # and at last the site default
    ],
)
def test_language_comes_from_data_lang_then_html_lang_then_browser_then_site_default(shop, visitor_factory, attrs, lang, locale, expected):
    visitor = visitor_factory(locale=locale)
    visitor.goto(shop.page(attrs=attrs, lang=lang))
    assert visitor.banner().locator("h2").inner_text() == expected


def test_nothing_optional_runs_and_no_third_party_request_before_consent(shop, visitor):
    page = visitor.goto(shop.page(body=HELD_BACK))
    visitor.banner().wait_for(state="visible")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__ran") is None
    assert page.evaluate("window.__necessary") == 1  # necessary placeholders need no consent
    assert page.locator("iframe").get_attribute("src") is None
    assert visitor.third_party == []
    assert page.evaluate("typeof window.fbq") == "function"  # Meta's queue stub, with no network
    assert page.evaluate("document.querySelectorAll('script[src*=googletagmanager], script[src*=facebook]').length") == 0
    assert page.evaluate("window.cookiegate.consent()") is None


def test_second_layer_lists_every_category_service_and_cookie_with_none_pre_ticked(shop, visitor):
    page = visitor.goto(shop.page())
    visitor.click("customise")
    dialog = visitor.settings()
    dialog.wait_for(state="visible")
    switches = {s.get_attribute("data-cookiegate-category"): s for s in dialog.locator("[data-cookiegate-category]").all()}
    assert list(switches) == ["necessary", "statistics", "marketing"]
    assert switches["necessary"].is_checked() and switches["necessary"].is_disabled()
    assert "Altid aktiv" in dialog.inner_text()
    assert not switches["statistics"].is_checked() and not switches["marketing"].is_checked()
    assert all(s.get_attribute("role") == "switch" for s in switches.values())
    for details in dialog.locator("details").all():
        details.locator("summary").click()
    rows = dialog.locator("tr").evaluate_all("rows => rows.map(r => Array.from(r.cells, c => c.textContent))")
    by_name = {row[0]: row for row in rows}
    assert set(by_name) >= {"cookiegate", "_ga", "_ga_TEST1234", "_fbp", "_fbc"}
    assert "_gid" not in by_name  # Universal Analytics' cookie; GA4 does not set it
    assert by_name["_ga"] == ["_ga", "Google Ireland Ltd.", "Et tilfældigt id, der genkender browseren ved senere besøg.", "2 år"]
    assert by_name["_fbp"][1] == "Meta Platforms Ireland Ltd." and by_name["_fbp"][3] == "3 måneder"
    assert by_name["cookiegate"][0:2] == ["cookiegate", "Test shop"]
    text = dialog.inner_text()
    assert "Google Analytics" in text and "Meta Pixel" in text
    assert dialog.locator("a").get_attribute("href") == shop.website.origin + "/privatliv"
    # No consent yet: no consent id and nothing to withdraw.
    assert not dialog.locator("code").is_visible()
    assert not dialog.locator("[data-cookiegate-action=withdraw]").is_visible()
    visitor.click("accept_all", "dialog")
    consent_id = visitor.token_payload_when_set()["c"]
    page.evaluate("window.cookiegate.open()")
    dialog.wait_for(state="visible")
    assert dialog.locator("code").inner_text() == consent_id
    assert dialog.locator("[data-cookiegate-action=withdraw]").is_visible()
    assert switches["statistics"].is_checked() and switches["marketing"].is_checked()


def test_banner_display_is_counted_without_cookies_or_identifiers(shop, visitor):
    visitor.context.add_cookies([{"name": "tracker", "value": "x", "url": shop.service}])
    visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")
    # Sent after the banner is painted; Playwright reports the request only while it is called.
    assert wait_until(lambda: shop.impressions() == 1, message="impression not counted", page=visitor.page)
    (impression,) = [r for r in visitor.service_requests if r.url.endswith("/impressions")]
    headers = impression.all_headers()
    assert impression.method == "POST" and impression.post_data in (None, "", "{}")
    assert "cookie" not in headers and "referer" not in headers
    assert impression.url == f"{shop.service}/api/v1/sites/{shop.key}/impressions"
    # A returning visitor who has chosen sees no banner and is not counted again.
    visitor.click("reject_all")
    visitor.wait_for_cookie()
    visitor.goto(shop.page())
    visitor.page.wait_for_timeout(500)
    assert shop.impressions() == 1


def test_config_request_carries_no_cookie_and_choices_are_simple_requests(shop, visitor, live_server):
    visitor.goto(shop.page())
    visitor.click("accept_all")
    visitor.wait_for_cookie()
    (post,) = [r for r in visitor.service_requests if r.url.endswith("/consents")]
    assert post.header_value("content-type").startswith("text/plain")
    assert post.header_value("cookie") is None and post.header_value("referer") is None
    body = json.loads(post.post_data)
    assert body["method"] == "accept_all" and body["language"] == "da" and body["gpc"] is False
    assert body["url"] == shop.website.origin + "/p1" and len(body["idempotency_key"]) >= 16
    # A simple request: the service never saw a preflight.
    assert f"OPTIONS /api/v1/sites/{shop.key}" not in live_server.access_log.read_text()
