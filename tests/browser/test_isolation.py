"""The banner and the host page leave each other alone: strict CSP, hostile CSS, no layout shift, nothing render-blocking."""
from __future__ import annotations

from .conftest import wait_until

NONCE = "cG9saWN5LW5vbmNl"
VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', e => "
    "(window.__csp = window.__csp || []).push([e.effectiveDirective, e.blockedURI, e.sample]))"
)
LAYOUT_SHIFTS = (
    "window.__shift = 0; new PerformanceObserver(l => l.getEntries().forEach(e => window.__shift += e.value))"
    ".observe({type: 'layout-shift', buffered: true})"
)
HOSTILE_CSS = """<style>
  html { font-size: 5px; }
  * { font-size: 40px !important; color: red !important; background: yellow !important; letter-spacing: 6px !important;
      line-height: 4 !important; margin: 25px !important; padding: 25px !important; text-transform: uppercase !important;
      box-sizing: content-box !important; }
  cookiegate-banner, [role=dialog], dialog, button, div, p { display: none !important; opacity: 0 !important;
      transform: scale(0) !important; visibility: hidden !important; }
  body { transform: translateX(30px); overflow: hidden; }
</style>"""


def test_works_under_a_strict_csp_without_unsafe_inline(shop, visitor):
    csp = (
        f"default-src 'self'; script-src 'self' {shop.service} https://www.googletagmanager.com https://connect.facebook.net "
        f"'nonce-{NONCE}' 'report-sample'; style-src 'self' {shop.service} 'report-sample'; connect-src 'self' {shop.service}; "
        "img-src 'self'; frame-src 'self'"
    )
    visitor.context.add_init_script(VIOLATIONS)
    body = (
        f'<script type="text/plain" data-cookiegate="statistics" nonce="{NONCE}">window.__held = 1</script>'
        "<script>window.__unnonced = 1</script>"  # proves the policy is in force
    )
    page = visitor.goto(shop.page(body=body, Content_Security_Policy=csp))
    bar = visitor.banner()
    bar.wait_for(state="visible")
    # Styled from the service's stylesheet: fixed, white, rounded.
    style = bar.evaluate("e => { const s = getComputedStyle(e); return [s.position, s.backgroundColor, s.borderTopLeftRadius] }")
    assert style == ["fixed", "rgb(255, 255, 255)", "12px"]
    visitor.click("customise")
    visitor.settings().wait_for(state="visible")
    visitor.click("accept_all", "dialog")
    visitor.wait_for_cookie()
    wait_until(lambda: page.evaluate("window.__held") == 1, message="the nonce-carrying held-back script did not run")
    wait_until(lambda: page.evaluate("window.__gtagLoads") == 1)
    assert page.evaluate("window.__unnonced") is None
    assert page.evaluate("window.__csp") == [["script-src-elem", "inline", "window.__unnonced = 1"]]


def test_host_page_css_cannot_break_the_banner(shop, visitor):
    page = visitor.goto(shop.page(head=HOSTILE_CSS))
    bar = visitor.banner()
    bar.wait_for(state="visible")
    accept = bar.locator("[data-cookiegate-action=accept_all]")
    style = accept.evaluate("""e => { const s = getComputedStyle(e);
        return [s.fontSize, s.color, s.backgroundColor, s.letterSpacing, s.textTransform, s.display, s.visibility, s.opacity] }""")
    assert style == ["15px", "rgb(255, 255, 255)", "rgb(11, 79, 138)", "normal", "none", "block", "visible", "1"]
    box = bar.bounding_box()
    viewport = page.viewport_size
    assert 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"] and box["y"] + box["height"] <= viewport["height"]
    assert page.evaluate("getComputedStyle(document.querySelector('cookiegate-banner')).display") != "none"
    accept.click()
    visitor.wait_for_cookie()
    assert len(shop.records()) == 1


def test_the_banner_leaves_the_host_page_styles_and_layout_alone(shop, visitor):
    own_css = "<style>button { background: rgb(0, 128, 0); color: rgb(1, 2, 3); font: 13px serif; } h1 { margin: 40px; }</style>"
    body = '<button id="buy">Læg i kurven</button>' + "<p>Tekst.</p>" * 40
    measure = """() => { const b = getComputedStyle(document.getElementById('buy'));
        return [b.backgroundColor, b.color, b.fontSize, b.fontFamily, JSON.stringify(document.querySelector('h1').getBoundingClientRect()),
                JSON.stringify(document.getElementById('buy').getBoundingClientRect()), document.documentElement.scrollHeight] }"""
    without_banner = shop.website.add("/plain", f"<!doctype html><html lang=da><head><title>x</title>{own_css}</head><body><h1>Fjordkaffe</h1><p>Frisklistet kaffe fra Vejle.</p>{body}</body></html>")
    page = visitor.goto(without_banner)
    expected = page.evaluate(measure)
    visitor.context.add_init_script(LAYOUT_SHIFTS)
    page = visitor.goto(shop.page(head=own_css, body=body))
    visitor.banner().wait_for(state="visible")
    visitor.click("customise")
    visitor.settings().wait_for(state="visible")
    assert page.evaluate(measure) == expected
    visitor.click("accept_all", "dialog")
    visitor.wait_for_cookie()
    page.locator("cookiegate-banner .f").wait_for(state="visible")
    assert page.evaluate(measure) == expected
    page.wait_for_timeout(200)
    assert page.evaluate("window.__shift") == 0


def test_nothing_from_the_service_blocks_rendering(shop, visitor):
    page = visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")
    page.wait_for_timeout(200)
    entries = page.evaluate(
        f"performance.getEntriesByType('resource').filter(e => e.name.startsWith('{shop.service}')).map(e => [e.name.split('/').pop(), e.renderBlockingStatus])"
    )
    names = {name.split("?")[0] for name, _ in entries}
    assert {"cookiegate.js", "config"} <= names  # the styles travel inside the script
    assert {status for _, status in entries} == {"non-blocking"}
