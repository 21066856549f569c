"""Returning visitors: decided locally from the token, asked again on a new policy or an expired
consent, reopening, withdrawal and the floating button."""
from __future__ import annotations

import datetime as dt

from cookiegate.extensions import db
from cookiegate.sites.site import bump_policy, get_site

from .conftest import wait_until
from .test_choices import cookie_names, plant_tracking_cookies

STATISTICS = '<script type="text/plain" data-cookiegate="statistics">window.__stats = (window.__stats || 0) + 1</script>'


def access_log_lines(live_server) -> list[str]:
    return live_server.access_log.read_text().splitlines()


def test_returning_visitor_sees_no_banner_gets_tags_at_once_and_asks_the_service_nothing(shop, visitor_factory, live_server):
    # No routing here: routing would switch the browser's HTTP cache off. Google's name does not
    # resolve on this machine, so its request fails at once, but we see that it was made.
    visitor = visitor_factory(stand_ins=False)
    page = visitor.goto(shop.page(body=STATISTICS))
    visitor.click("accept_all")
    visitor.wait_for_cookie()
    wait_until(lambda: page.evaluate("window.__stats") == 1)
    page.wait_for_timeout(300)  # let the access log catch up
    before = access_log_lines(live_server)
    google_before = len(visitor.third_party)

    page = visitor.goto(shop.page(body=STATISTICS))
    wait_until(lambda: page.evaluate("window.__stats") == 1, message="tags did not run at once")
    assert not visitor.banner().is_visible()
    page.locator("cookiegate-banner .f").wait_for(state="visible")
    page.wait_for_timeout(500)
    assert access_log_lines(live_server) == before, "a returning visitor asked the service something"
    assert sorted(visitor.third_party[google_before:]) == sorted(visitor.third_party[:google_before])  # gtag.js and the pixel again, at once
    assert page.evaluate("cookiegate.consent().choices.statistics") is True
    assert len(shop.records()) == 1


def test_a_new_policy_version_shows_the_banner_again_and_keeps_the_consent_id(shop, visitor):
    page = visitor.goto(shop.page(body=STATISTICS))
    visitor.click("accept_all")
    first = visitor.token_payload_when_set()
    site = get_site(shop.key)
    bump_policy(site)
    db.session.commit()
    page.wait_for_timeout(1200)  # the live server's site snapshot lives a second in tests
    # Past the config's cache lifetime (routing keeps the browser cache off here).
    page = visitor.goto(shop.page(body=STATISTICS))
    visitor.banner().wait_for(state="visible")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__stats") is None
    assert page.evaluate("cookiegate.consent()") is None
    old = visitor.consent_cookie()
    visitor.click("accept_all")
    second = visitor.token_payload_when_set(other_than=old)
    assert second["v"] == 2 and second["c"] == first["c"]
    assert [r.policy_version for r in shop.records()] == [1, 2]


def test_an_expired_consent_shows_the_banner_again(shop, visitor):
    page = visitor.goto(shop.page(body=STATISTICS))
    visitor.click("reject_all")
    visitor.wait_for_cookie()
    now = dt.datetime.now(dt.timezone.utc)
    visitor.context.clock.set_fixed_time(now + dt.timedelta(days=364))
    page = visitor.goto(shop.page())
    page.locator("cookiegate-banner .f").wait_for(state="visible")
    assert not visitor.banner().is_visible()
    visitor.context.clock.set_fixed_time(now + dt.timedelta(days=366))
    visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")


def test_withdrawal_is_as_easy_as_consent_and_deletes_the_cookies(shop, visitor):
    page = visitor.goto(shop.page(body=STATISTICS + '<button data-cookiegate-open id="settings">Cookie-indstillinger</button>'))
    visitor.click("accept_all")
    token = visitor.wait_for_cookie()
    consent_id = visitor.token_payload()["c"]
    plant_tracking_cookies(visitor, shop)
    page.locator("#settings").click()
    dialog = visitor.settings()
    dialog.wait_for(state="visible")
    assert dialog.locator("code").inner_text() == consent_id
    visitor.click("withdraw", "dialog")
    visitor.wait_for_cookie(other_than=token)
    payload = visitor.token_payload()
    assert payload["w"] == 1 and payload["c"] == consent_id and payload["g"] == ["necessary"]
    assert cookie_names(visitor) == {"basket", "cookiegate"}
    assert [r.method for r in shop.records()] == ["accept_all", "withdraw"]
    assert page.evaluate("cookiegate.consent()")["withdrawn"] is True
    assert page.evaluate("cookiegate.allowed('statistics')") is False
    # The next page: nothing optional runs, and the visitor is not nagged again.
    page = visitor.goto(shop.page(body=STATISTICS))
    page.locator("cookiegate-banner .f").wait_for(state="visible")
    assert not visitor.banner().is_visible()
    assert page.evaluate("window.__stats") is None


def test_floating_button_reopens_the_settings_and_takes_the_focus_back(shop, visitor):
    page = visitor.goto(shop.page())
    visitor.click("reject_all")
    visitor.wait_for_cookie()
    fab = page.locator("cookiegate-banner [data-cookiegate-open]")
    fab.wait_for(state="visible")
    assert fab.get_attribute("aria-label") == "Cookie-indstillinger"
    fab.click()
    visitor.settings().wait_for(state="visible")
    assert not fab.is_visible()
    page.keyboard.press("Escape")
    fab.wait_for(state="visible")
    assert page.evaluate("document.querySelector('cookiegate-banner').shadowRoot.activeElement.className") == "f"


def test_floating_button_can_be_turned_off_per_site(shop, visitor):
    site = get_site(shop.key)
    site.floating_button = False
    db.session.commit()
    page = visitor.goto(shop.page(body='<button data-cookiegate-open id="settings">Cookie-indstillinger</button>'))
    visitor.click("accept_all")
    visitor.wait_for_cookie()
    page.wait_for_timeout(200)
    assert not page.locator("cookiegate-banner .f").is_visible()
    page = visitor.goto(shop.page(body='<button data-cookiegate-open id="settings">Cookie-indstillinger</button>'))
    page.wait_for_timeout(500)
    assert page.evaluate("document.querySelector('cookiegate-banner')") is None  # nothing built at all
    page.locator("#settings").click()
    visitor.settings().wait_for(state="visible")
    assert not page.locator("cookiegate-banner .f").is_visible()
