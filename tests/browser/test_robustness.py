"""Issue 15, robustness: Trusted Types, isolated callbacks, one warning per misconfiguration, the order
with a page's own gtag, withdrawal while a choice is pending, refused cookies on other paths,
placeholders added later, and impressions that count only a first layer shown by itself."""
from __future__ import annotations

import json

from .conftest import wait_until
from .test_choices import cookie_names

STATISTICS = '<script type="text/plain" data-cookiegate="statistics">window.__stats = (window.__stats || 0) + 1</script>'
HOST_GTAG = "<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments)} gtag('js', new Date()); gtag('config', 'G-HOST');</script>"


def warnings_of(page) -> list[str]:
    found = []
    page.on("console", lambda message: message.type == "warning" and found.append(message.text))
    return found


def test_the_banner_appears_and_releases_tags_under_trusted_types(shop, visitor):
    csp = "require-trusted-types-for 'script'; trusted-types cookiegate"
    violations = "document.addEventListener('securitypolicyviolation', e => (window.__tt = window.__tt || []).push(e.effectiveDirective))"
    visitor.context.add_init_script(violations)
    page = visitor.goto(shop.page(body=STATISTICS + '<script type="text/plain" data-cookiegate="statistics" src="/stats.js"></script>', Content_Security_Policy=csp))
    shop.website.add("/stats.js", "window.__external = 1", content_type="application/javascript")
    visitor.banner().wait_for(state="visible")
    visitor.click("customise")
    visitor.settings().wait_for(state="visible")
    visitor.click("accept_all", "dialog")
    wait_until(lambda: page.evaluate("window.__stats") == 1 and page.evaluate("window.__external") == 1, message="held-back scripts did not run")
    wait_until(lambda: page.evaluate("window.__gtagLoads") == 1, message="the built-in tag was not injected")
    assert page.evaluate("window.__tt") is None  # not one Trusted Types violation


def test_without_its_trusted_types_policy_the_banner_still_works_and_says_why(shop, visitor):
    warned = warnings_of(visitor.page)
    csp = "require-trusted-types-for 'script'; trusted-types other"
    visitor.context.add_init_script("document.addEventListener('cookiegate:change', e => window.__change = e.detail.choices)")
    page = visitor.goto(shop.page(body=STATISTICS, Content_Security_Policy=csp))
    visitor.banner().wait_for(state="visible")  # built without HTML strings: no policy needed
    visitor.click("accept_all")
    visitor.wait_for_cookie()
    page.locator("cookiegate-banner .f").wait_for(state="visible")
    assert page.evaluate("window.__change") == {"necessary": True, "statistics": True, "marketing": True}
    assert page.evaluate("window.__stats") is None  # the page's CSP forbids running it: not run, and said so
    page.wait_for_timeout(200)
    assert len([w for w in warned if "Trusted Types policy 'cookiegate'" in w]) == 1, warned


def test_a_throwing_onchange_listener_does_not_stop_the_returning_visitor_banner(shop, visitor):
    page = visitor.goto(shop.page())
    visitor.click("accept_all")
    visitor.wait_for_cookie()
    errors = []
    visitor.page.on("pageerror", lambda error: errors.append(str(error)))
    warned = warnings_of(visitor.page)
    listener = "<script>cookiegate.onChange(() => { throw new Error('host bug') })</script>"
    page = visitor.goto(shop.page(attrs="", head=listener, body=STATISTICS))
    page.locator("cookiegate-banner .f").wait_for(state="visible")  # the way to withdraw is there
    wait_until(lambda: page.evaluate("window.__stats") == 1)
    wait_until(lambda: errors, message="the listener's error was swallowed", page=page)
    assert "host bug" in errors[0]
    assert len([w for w in warned if "callback" in w]) == 1
    # The next change still reaches the other parts: Consent Mode, events.
    page.evaluate("document.addEventListener('cookiegate:change', () => window.__changed = 1)")
    page.locator("cookiegate-banner .f").click()
    visitor.click("reject_all", "dialog")
    wait_until(lambda: page.evaluate("window.__changed") == 1)
    assert page.evaluate("cookiegate.allowed('statistics')") is False


def test_each_misconfiguration_warns_once_without_personal_data(shop, visitor):
    warned = warnings_of(visitor.page)
    unknown = '<script type="text/plain" data-cookiegate="stats">1</script><script type="text/plain" data-cookiegate="stats">2</script>'
    page = visitor.goto(shop.page(body=unknown))
    visitor.click("accept_all")
    token = visitor.wait_for_cookie()
    page.evaluate("""() => { for (const i of [1, 2]) { const s = document.createElement('script'); s.type = 'text/plain';
        s.dataset.cookiegate = 'stats'; document.body.append(s); } }""")
    page.wait_for_timeout(300)
    assert len([w for w in warned if '"stats"' in w]) == 1, warned
    consent_id = visitor.token_payload()["c"]
    assert all(consent_id not in w and token not in w for w in warned)
    # A wrong site key: one warning that says what to check.
    wrong = f'<!doctype html><html lang="da"><title>x</title><script src="{shop.service}/banner/v1/cookiegate.js" data-site="nosuchsite"></script>'
    visitor.goto(shop.website.add("/wrong", wrong))
    visitor.page.wait_for_timeout(1000)  # (Playwright delivers console events while it is called)
    assert len([w for w in warned if "data-site" in w]) == 1, warned


def test_a_google_tag_before_the_consent_default_is_warned_about(shop, visitor):
    warned = warnings_of(visitor.page)
    page = visitor.goto(shop.page(head=HOST_GTAG))  # the page's gtag snippet runs before the async banner
    visitor.banner().wait_for(state="visible")
    page.wait_for_timeout(200)
    assert [w for w in warned if "before the consent default" in w], warned


def test_consent_default_js_before_the_pages_gtag_puts_the_default_first_without_a_warning(shop, visitor):
    warned = warnings_of(visitor.page)
    head = f'<script src="{shop.service}/banner/v1/consent-default.js"></script>' + HOST_GTAG
    visitor.goto(shop.page(head=head))
    visitor.banner().wait_for(state="visible")
    layer = visitor.data_layer()
    assert layer[0][:2] == ["consent", "default"] and layer[0][2]["analytics_storage"] == "denied"
    commands = [e[0] if isinstance(e, list) else e.get("event") for e in layer]
    assert commands.index("js") > 0 and ["config", "G-HOST"] in layer  # the page's tag after the default
    visitor.click("accept_all")
    visitor.wait_for_cookie()
    assert ["consent", "update"] == [e for e in visitor.data_layer() if isinstance(e, list) and e[:2] == ["consent", "update"]][0][:2]
    assert not [w for w in warned if "before the consent default" in w], warned


def test_the_banner_without_async_before_the_pages_gtag_also_comes_first(shop, visitor):
    warned = warnings_of(visitor.page)
    visitor.goto(shop.page(attrs="", head=HOST_GTAG))  # our tag first and synchronous, then the page's
    visitor.banner().wait_for(state="visible")
    assert visitor.data_layer()[0][:2] == ["consent", "default"]
    assert not [w for w in warned if "before the consent default" in w]


def test_withdrawing_while_the_choice_is_pending_records_a_withdrawal(shop, visitor):
    def lost_answer(route):
        route.fetch()  # recorded by the service, but the answer never arrives
        route.abort("connectionreset")

    pattern = f"**/api/v1/sites/{shop.key}/consents"
    visitor.context.route(pattern, lost_answer)
    page = visitor.goto(shop.page(body=STATISTICS))
    visitor.click("accept_all")
    # The route handler runs only while Playwright is called: wait through it, not beside it.
    wait_until(lambda: len(shop.records()) == 1, page=page)
    page.wait_for_timeout(200)
    assert page.evaluate("cookiegate.consent().pending") is True
    visitor.context.unroute(pattern)
    page.evaluate("cookiegate.open()")
    visitor.settings().wait_for(state="visible")
    visitor.click("withdraw", "dialog")
    visitor.wait_for_cookie()
    payload = wait_until(lambda: (visitor.token_payload() or {}).get("w") == 1 and visitor.token_payload(), message="the withdrawal was not recorded")
    assert [r.method for r in shop.records()] == ["accept_all", "withdraw"]
    assert len({r.consent_id for r in shop.records()}) == 1 and payload["c"] == shop.records()[0].consent_id
    assert page.evaluate("cookiegate.consent()")["withdrawn"] is True and page.evaluate("cookiegate.consent().pending") is False


def test_refused_cookies_on_the_pages_folders_are_deleted_too(shop, visitor):
    url = shop.page(path="/shop/kaffe/p")
    cookies = []
    for path in ("/", "/shop", "/shop/", "/shop/kaffe"):
        cookies.append({"name": "_ga", "value": path, "domain": ".shop.test", "path": path})
        cookies.append({"name": "_fbp", "value": path, "domain": "www.shop.test", "path": path})
    cookies.append({"name": "basket", "value": "1", "domain": "www.shop.test", "path": "/shop"})
    visitor.context.add_cookies(cookies)
    visitor.goto(url)
    visitor.click("reject_all")
    visitor.wait_for_cookie()
    visitor.page.wait_for_timeout(200)
    assert cookie_names(visitor) == {"basket", "cookiegate"}


def test_placeholders_added_after_load_follow_the_granted_categories(shop, visitor):
    add = """cat => { const s = document.createElement('script'); s.type = 'text/plain'; s.dataset.cookiegate = cat;
        s.text = `window.__late = (window.__late || []).concat('${cat}')`; document.body.append(s); }"""
    page = visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")
    page.evaluate(add, "statistics")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__late") is None  # nothing granted yet
    visitor.click("customise")
    page.locator("[data-cookiegate-category=statistics]").check()
    visitor.click("save", "dialog")
    wait_until(lambda: page.evaluate("window.__late") == ["statistics"])
    # A single-page app renders more: granted runs at once, refused waits.
    page.evaluate("""() => { const div = document.createElement('div');
        div.innerHTML = '<p>Ny visning</p>'; document.body.append(div); }""")
    page.evaluate(add, "statistics")
    page.evaluate(add, "marketing")
    wait_until(lambda: page.evaluate("window.__late") == ["statistics", "statistics"])
    page.wait_for_timeout(200)
    assert page.evaluate("window.__late") == ["statistics", "statistics"]


def test_impressions_count_the_first_layer_once_and_never_a_reopened_settings(shop, visitor):
    page = visitor.goto(shop.page(body='<button data-cookiegate-open id="open">Cookie-indstillinger</button>'))
    visitor.banner().wait_for(state="visible")
    wait_until(lambda: shop.impressions() == 1)
    # To the settings and back (Escape) before choosing: the same display, not a new one.
    visitor.click("customise")
    visitor.settings().wait_for(state="visible")
    page.keyboard.press("Escape")
    visitor.banner().wait_for(state="visible")
    visitor.click("accept_all")
    visitor.wait_for_cookie()
    posts = lambda: [r for r in visitor.service_requests if r.url.endswith("/impressions")]  # noqa: E731
    assert len(posts()) == 1
    # A returning visitor reopens the settings three ways: no impression.
    page = visitor.goto(shop.page(body='<button data-cookiegate-open id="open">Cookie-indstillinger</button>'))
    page.locator("cookiegate-banner .f").click()
    visitor.settings().wait_for(state="visible")
    page.keyboard.press("Escape")
    page.locator("#open").click()
    visitor.settings().wait_for(state="visible")
    page.keyboard.press("Escape")
    page.evaluate("cookiegate.open()")
    visitor.settings().wait_for(state="visible")
    page.wait_for_timeout(500)
    assert len(posts()) == 1 and shop.impressions() == 1
    assert json.loads(json.dumps(page.evaluate("cookiegate.consent().choices")))["statistics"] is True
