"""Choosing: what runs, what is recorded, Consent Mode and Meta, events, the JS API and cookie clean-up."""
from __future__ import annotations

import time

from .conftest import wait_until

ORDERED = (
    '<script type="text/plain" data-cookiegate="statistics" id="first">window.__order = ["a"]</script>'
    '<script type="text/plain" data-cookiegate="statistics" src="/slow.js" id="second" data-extra="kept" class="tag"></script>'
    '<script type="text/plain" data-cookiegate="statistics">window.__order.push("c")</script>'
    '<script type="text/plain" data-cookiegate="marketing">window.__order.push("m")</script>'
    '<iframe data-cookiegate="marketing" data-src="/frame" title="Kort"></iframe>'
)
EVENTS = "document.addEventListener('cookiegate:change', e => (window.__changes = window.__changes || []).push(e.detail))"
TRACKING_COOKIES = ("_ga", "_ga_TEST1234", "_fbp", "_fbc")


def slow_script(shop):
    # Slower than the inline scripts around it: order must still hold.
    shop.website.add("/slow.js", 'window.__order.push("b")', content_type="application/javascript", delay=0.4)
    shop.website.add("/frame", "<!doctype html><title>Kort</title><p>Kort", )


def plant_tracking_cookies(visitor, shop):
    cookies = []
    for name in TRACKING_COOKIES:
        # As Google and Meta set them: on the registrable domain, and some host-only.
        cookies.append({"name": name, "value": "1", "domain": ".shop.test", "path": "/"})
        cookies.append({"name": name, "value": "2", "url": shop.website.origin})
    cookies.append({"name": "basket", "value": "3", "url": shop.website.origin})
    visitor.context.add_cookies(cookies)


def cookie_names(visitor) -> set[str]:
    return {c["name"] for c in visitor.context.cookies()}


def test_accept_all_runs_held_back_tags_in_order_and_keeps_the_token_first_party(shop, visitor):
    slow_script(shop)
    page = visitor.goto(shop.page(body=ORDERED))
    visitor.click("accept_all")
    wait_until(lambda: page.evaluate("window.__order && window.__order.length === 4"), message="held-back scripts did not all run")
    assert page.evaluate("window.__order") == ["a", "b", "c", "m"]
    second = page.locator("#second")
    assert second.get_attribute("type") is None and second.get_attribute("data-extra") == "kept"
    assert second.get_attribute("class") == "tag" and second.get_attribute("src") == "/slow.js"
    assert page.locator("iframe").get_attribute("src") == "/frame"
    wait_until(lambda: page.evaluate("window.__gtagLoads") == 1 and page.evaluate("Array.isArray(window.__fb)"))
    assert sorted(visitor.third_party) == ["https://connect.facebook.net/en_US/fbevents.js", "https://www.googletagmanager.com/gtag/js?id=G-TEST1234"]

    payload = visitor.token_payload_when_set()
    (cookie,) = [c for c in visitor.context.cookies() if c["name"] == "cookiegate"]
    assert cookie["domain"] == "www.shop.test" and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert 364 * 86400 < cookie["expires"] - time.time() <= 365 * 86400
    (record,) = shop.records()
    assert record.method == "accept_all" and record.consent_id == payload["c"]
    assert record.choices == {"necessary": True, "statistics": True, "marketing": True}
    assert record.page_url == shop.website.origin + "/p1" and record.language == "da" and record.gpc is False
    assert sorted(payload["g"]) == ["marketing", "necessary", "statistics"] and payload["s"] == shop.key


def test_reject_all_runs_nothing_and_deletes_tracking_cookies(shop, visitor):
    slow_script(shop)
    plant_tracking_cookies(visitor, shop)
    page = visitor.goto(shop.page(body=ORDERED))
    visitor.click("reject_all")
    visitor.wait_for_cookie()
    assert cookie_names(visitor) == {"basket", "cookiegate"}
    page.wait_for_timeout(300)
    assert page.evaluate("window.__order") is None and visitor.third_party == []
    assert page.locator("iframe").get_attribute("src") is None
    (record,) = shop.records()
    assert record.method == "reject_all" and record.choices == {"necessary": True, "statistics": False, "marketing": False}


def test_custom_choice_grants_only_the_switched_on_category(shop, visitor):
    slow_script(shop)
    plant_tracking_cookies(visitor, shop)
    page = visitor.goto(shop.page(body=ORDERED))
    visitor.click("customise")
    page.locator("[data-cookiegate-category=statistics]").check()
    visitor.click("save", "dialog")
    visitor.wait_for_cookie()
    wait_until(lambda: page.evaluate("window.__order && window.__order.length === 3"))
    page.wait_for_timeout(200)
    assert page.evaluate("window.__order") == ["a", "b", "c"]
    assert visitor.third_party == ["https://www.googletagmanager.com/gtag/js?id=G-TEST1234"]
    # Statistics cookies stay; the refused marketing category's cookies are gone.
    assert cookie_names(visitor) == {"basket", "cookiegate", "_ga", "_ga_TEST1234"}
    (record,) = shop.records()
    assert record.method == "custom" and record.choices == {"necessary": True, "statistics": True, "marketing": False}


def test_consent_mode_default_comes_first_and_every_choice_updates_it_with_events(shop, visitor):
    visitor.context.add_init_script(EVENTS)
    page = visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")
    first = visitor.data_layer()
    assert first[0] == [
        "consent", "default",
        {"ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied", "analytics_storage": "denied",
         "functionality_storage": "denied", "personalization_storage": "denied", "security_storage": "granted", "wait_for_update": 500},
    ]
    assert len(first) == 1  # nothing else before a choice

    visitor.click("accept_all")
    token = visitor.wait_for_cookie()
    layer = visitor.data_layer()
    update = layer[1]
    assert update == ["consent", "update", {
        "ad_storage": "granted", "ad_user_data": "granted", "ad_personalization": "granted", "analytics_storage": "granted",
        "functionality_storage": "granted", "personalization_storage": "denied", "security_storage": "granted"}]
    assert layer[2][0] == "js" and layer[3] == ["config", "G-TEST1234"]
    events = [e for e in layer if isinstance(e, dict) and e.get("event") == "cookiegate_consent"]
    assert events == [{"event": "cookiegate_consent", "cookiegate": {"necessary": True, "statistics": True, "marketing": True}}]
    wait_until(lambda: page.evaluate("Array.isArray(window.__fb)"))
    assert page.evaluate("window.__fb") == [["consent", "revoke"], ["init", "1234567890"], ["track", "PageView"], ["consent", "grant"]]

    # Change of mind: reject marketing from the reopened second layer.
    page.evaluate("window.cookiegate.open()")
    page.locator("[data-cookiegate-category=marketing]").uncheck()
    visitor.click("save", "dialog")
    visitor.wait_for_cookie(other_than=token)
    layer = visitor.data_layer()
    updates = [e for e in layer if isinstance(e, list) and e[:2] == ["consent", "update"]]
    assert len(updates) == 2 and updates[1][2]["ad_storage"] == "denied" and updates[1][2]["analytics_storage"] == "granted"
    assert page.evaluate("window.__fb").pop() == ["consent", "revoke"]
    changes = page.evaluate("window.__changes")
    assert [c["choices"]["marketing"] for c in changes] == [True, False]
    assert len([e for e in layer if isinstance(e, dict) and e.get("event") == "cookiegate_consent"]) == 2
    assert [r.method for r in shop.records()] == ["accept_all", "custom"]
    assert len({r.consent_id for r in shop.records()}) == 1  # the same visitor keeps one consent id


def test_js_api_reports_allows_opens_and_notifies(shop, visitor):
    page = visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")
    assert page.evaluate("cookiegate.consent()") is None
    assert page.evaluate("[cookiegate.allowed('necessary'), cookiegate.allowed('statistics'), cookiegate.allowed('marketing')]") == [True, False, False]
    page.evaluate("""() => {
        window.__seen = [];
        window.__off = cookiegate.onChange(c => __seen.push(c.choices));
        window.__other = [];
        cookiegate.onChange(c => __other.push(c.choices.statistics));
    }""")
    visitor.click("customise")
    page.locator("[data-cookiegate-category=statistics]").check()
    visitor.click("save", "dialog")
    token = visitor.wait_for_cookie()
    assert page.evaluate("__seen") == [{"necessary": True, "statistics": True, "marketing": False}]
    assert page.evaluate("[cookiegate.allowed('statistics'), cookiegate.allowed('marketing')]") == [True, False]
    consent = page.evaluate("cookiegate.consent()")
    assert consent["choices"] == {"necessary": True, "statistics": True, "marketing": False}
    assert consent["consent_id"] == visitor.token_payload()["c"] and consent["policy_version"] == 1 and consent["withdrawn"] is False
    # onChange calls at once when a choice is already known, and unsubscribing stops it.
    assert page.evaluate("new Promise(ok => cookiegate.onChange(ok)).then(c => c.choices.statistics)") is True
    page.evaluate("__off()")
    page.evaluate("cookiegate.open()")
    visitor.settings().wait_for(state="visible")
    visitor.click("reject_all", "dialog")
    visitor.wait_for_cookie(other_than=token)
    assert page.evaluate("__seen").__len__() == 1 and page.evaluate("__other") == [True, False]


def test_stable_hooks_name_every_action_and_category(shop, visitor):
    page = visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")
    visitor.click("customise")  # the second layer is loaded when it is first opened
    visitor.settings().wait_for(state="visible")
    actions = page.locator("cookiegate-banner [data-cookiegate-action]").evaluate_all("els => els.map(e => e.dataset.cookiegateAction)")
    assert set(actions) >= {"accept_all", "reject_all", "customise", "save", "withdraw"}
    categories = page.locator("cookiegate-banner [data-cookiegate-category]").evaluate_all("els => els.map(e => e.dataset.cookiegateCategory)")
    assert categories == ["necessary", "statistics", "marketing"]
    assert page.evaluate("document.querySelector('cookiegate-banner').shadowRoot.mode") == "open"
