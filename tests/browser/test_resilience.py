"""The service down or slow, and Global Privacy Control."""
from __future__ import annotations

import json

from .conftest import wait_until
from .test_choices import ORDERED, slow_script

STATISTICS = '<script type="text/plain" data-cookiegate="statistics">window.__stats = (window.__stats || 0) + 1</script>'


def test_service_down_the_choice_applies_at_once_and_is_resent_later_with_the_same_key(shop, visitor):
    bodies = []

    def lost_answer(route):
        # The service records the choice, but the answer never reaches the browser.
        body = json.loads(route.request.post_data)
        route.fetch()
        route.abort("connectionreset")
        bodies.append(body)

    pattern = f"**/api/v1/sites/{shop.key}/consents"
    visitor.context.route(pattern, lost_answer)
    failed = []
    visitor.page.on("requestfailed", lambda request: request.url.endswith("/consents") and failed.append(request))
    page = visitor.goto(shop.page(body=STATISTICS))
    visitor.click("accept_all")
    wait_until(lambda: page.evaluate("window.__stats") == 1, message="the choice did not apply at once")
    # The handler and the listener run only while the test waits inside Playwright (page=).
    wait_until(lambda: bodies and failed, page=page, message="the lost answer never happened")
    assert len(shop.records()) == 1
    assert visitor.consent_cookie() is None
    assert page.evaluate("cookiegate.consent().pending") is True

    visitor.context.unroute(pattern)
    earlier = len(visitor.service_requests)
    page = visitor.goto(shop.page(body=STATISTICS))
    assert not visitor.banner().is_visible()
    wait_until(lambda: page.evaluate("window.__stats") == 1)  # still applies while it is resent
    payload = visitor.token_payload_when_set()
    (resent,) = [r for r in visitor.service_requests[earlier:] if r.url.endswith("/consents")]
    assert json.loads(resent.post_data)["idempotency_key"] == bodies[0]["idempotency_key"]
    assert resent.response().headers.get("idempotent-replayed") == "true"
    (record,) = shop.records()  # stored once
    assert payload["c"] == record.consent_id
    assert page.evaluate("cookiegate.consent().pending") is False
    # Nothing is left to resend: the next page applies the choice and goes quiet without a request.
    page = visitor.goto(shop.page(body=STATISTICS))
    wait_until(lambda: page.evaluate("window.__stats") == 1)
    page.wait_for_load_state("networkidle")
    assert len([r for r in visitor.service_requests[earlier:] if r.url.endswith("/consents")]) == 1


def test_a_slow_service_blocks_neither_the_page_nor_the_choice(shop, visitor):
    held = []
    config = f"**/api/v1/sites/{shop.key}/config*"
    visitor.context.route(config, lambda route: held.append(route))
    page = visitor.goto(shop.page(body='<p id="own">Sidens eget indhold</p><script>window.__own = 1</script>'))
    assert page.evaluate("document.readyState") == "complete" and page.evaluate("window.__own") == 1
    assert page.locator("#own").is_visible() and not visitor.banner().is_visible()
    wait_until(lambda: held, page=page)
    held[0].continue_()
    visitor.banner().wait_for(state="visible")
    visitor.context.unroute(config)

    waiting = []
    visitor.context.route(f"**/api/v1/sites/{shop.key}/consents", lambda route: waiting.append(route))
    slow_script(shop)
    page = visitor.goto(shop.page(body=ORDERED))
    visitor.click("accept_all")
    wait_until(lambda: page.evaluate("window.__order && window.__order.length === 4"), message="tags waited for the service")
    assert waiting and visitor.consent_cookie() is None
    waiting[0].continue_()
    visitor.wait_for_cookie()


def test_choice_js_unreachable_at_the_choice_the_choice_waits_and_applies_on_the_next_page(shop, visitor):
    warned = []
    visitor.page.on("console", lambda message: message.type == "warning" and warned.append(message.text))
    choice_js = "**/banner/v1/choice.js"
    visitor.context.route(choice_js, lambda route: route.abort("connectionrefused"))
    page = visitor.goto(shop.page(body=STATISTICS))
    visitor.click("accept_all")
    wait_until(lambda: [w for w in warned if "choice.js not loaded" in w], message="no warning", page=page)
    assert not visitor.banner().is_visible() and page.evaluate("window.__stats") is None
    assert visitor.consent_cookie() is None and page.evaluate("cookiegate.consent().pending") is True

    visitor.context.unroute(choice_js)
    page = visitor.goto(shop.page(body=STATISTICS))
    assert not visitor.banner().is_visible()
    wait_until(lambda: page.evaluate("window.__stats") == 1, message="the kept choice did not apply")
    visitor.wait_for_cookie()
    assert [r.method for r in shop.records()] == ["accept_all"]


def test_banner_script_unreachable_the_page_still_works(shop, visitor):
    visitor.context.route("**/banner/v1/cookiegate.js", lambda route: route.abort("connectionrefused"))
    errors = []
    visitor.page.on("pageerror", lambda error: errors.append(error))
    page = visitor.goto(shop.page(body=STATISTICS + "<script>window.__own = 1</script>"))
    assert page.evaluate("window.__own") == 1 and page.evaluate("window.__stats") is None
    assert errors == []


def test_global_privacy_control_keeps_marketing_off_and_is_recorded(shop, visitor_factory):
    visitor = visitor_factory(gpc=True)
    slow_script(shop)
    page = visitor.goto(shop.page(body=ORDERED))
    banner = visitor.banner()
    banner.wait_for(state="visible")
    assert "Global Privacy Control" in banner.inner_text()
    visitor.click("accept_all")
    payload = visitor.token_payload_when_set()
    assert sorted(payload["g"]) == ["necessary", "statistics"]
    (post,) = [r for r in visitor.service_requests if r.url.endswith("/consents")]
    body = json.loads(post.post_data)
    assert body["gpc"] is True and body["choices"] == {"statistics": True, "marketing": False}
    (record,) = shop.records()
    assert record.gpc is True and record.choices["marketing"] is False
    wait_until(lambda: page.evaluate("window.__order && window.__order.length === 3"))
    assert visitor.third_party == ["https://www.googletagmanager.com/gtag/js?id=G-TEST1234"]
    # The visitor may still switch marketing on themselves.
    page.evaluate("cookiegate.open()")
    marketing = page.locator("[data-cookiegate-category=marketing]")
    assert not marketing.is_checked()
    marketing.check()
    token = visitor.consent_cookie()
    visitor.click("save", "dialog")
    visitor.wait_for_cookie(other_than=token)
    assert shop.records()[-1].choices["marketing"] is True and shop.records()[-1].gpc is True
    wait_until(lambda: "https://connect.facebook.net/en_US/fbevents.js" in visitor.third_party, page=page)


def test_without_global_privacy_control_accept_all_grants_marketing(shop, visitor):
    visitor.goto(shop.page())
    assert "Global Privacy Control" not in visitor.banner().inner_text()
    visitor.click("accept_all")
    assert "marketing" in visitor.token_payload_when_set()["g"]
