"""Accessible: axe-core finds nothing serious, the keyboard does everything, focus goes in and comes back."""
from __future__ import annotations

import pytest

from .conftest import AXE, wait_until

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}));
}"""


def axe_violations(page):
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make system-deps`")
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(AXE.read_text())
    return page.evaluate(RUN_AXE)


def shadow_focus(page) -> dict:
    """What has the focus, looking into the banner's shadow root."""
    return page.evaluate("""() => {
      const host = document.querySelector('cookiegate-banner');
      const inner = host && host.shadowRoot.activeElement;
      const el = inner || document.activeElement;
      const s = getComputedStyle(el);
      return {inBanner: !!inner, id: el.id, action: el.dataset.cookiegateAction || null, category: el.dataset.cookiegateCategory || null,
              cls: el.className, tag: el.tagName, outline: [s.outlineStyle, s.outlineWidth]};
    }""")


def test_axe_finds_no_serious_or_critical_violation_in_either_layer_or_the_button(shop, visitor):
    page = visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")
    page.wait_for_timeout(200)
    assert axe_violations(page) == []
    visitor.click("customise")
    visitor.settings().wait_for(state="visible")
    for summary in visitor.settings().locator("summary").all():
        summary.click()
    assert axe_violations(page) == []
    visitor.click("accept_all", "dialog")
    visitor.wait_for_cookie()
    page.locator("cookiegate-banner .f").wait_for(state="visible")
    page.evaluate("cookiegate.open()")
    visitor.settings().wait_for(state="visible")
    assert axe_violations(page) == []  # with the consent id and the withdraw button


def test_axe_finds_no_serious_violation_in_english_under_gpc(shop, visitor_factory):
    visitor = visitor_factory(gpc=True, locale="en-GB")
    page = visitor.goto(shop.page(lang="en"))
    visitor.banner().wait_for(state="visible")
    page.wait_for_timeout(200)
    assert axe_violations(page) == []


def test_keyboard_alone_can_choose_and_focus_moves_into_the_banner_and_back(shop, visitor):
    page = visitor.goto(shop.page(body='<label>Søg <input id="q" autofocus></label>'))
    visitor.banner().wait_for(state="visible")
    page.wait_for_function("document.querySelector('cookiegate-banner').shadowRoot.activeElement !== null")
    focus = shadow_focus(page)
    assert focus["inBanner"] and focus["cls"] == "b"  # the dialog itself, so its title and text are read first
    for _ in range(6):
        page.keyboard.press("Tab")
        if shadow_focus(page)["action"] == "customise":
            break
    focus = shadow_focus(page)
    assert focus["action"] == "customise"
    assert focus["outline"] == ["solid", "3px"]  # visible focus
    page.keyboard.press("Enter")
    visitor.settings().wait_for(state="visible")
    assert shadow_focus(page)["inBanner"]
    for _ in range(12):
        page.keyboard.press("Tab")
        if shadow_focus(page)["category"] == "statistics":
            break
    assert shadow_focus(page)["category"] == "statistics"
    page.keyboard.press("Space")
    assert page.locator("[data-cookiegate-category=statistics]").is_checked()
    for _ in range(12):
        page.keyboard.press("Tab")
        if shadow_focus(page)["action"] == "save":
            break
    assert shadow_focus(page)["action"] == "save"
    page.keyboard.press("Enter")
    visitor.wait_for_cookie()
    assert not visitor.settings().is_visible()
    focus = shadow_focus(page)
    assert not focus["inBanner"] and focus["id"] == "q"  # back where the visitor was
    (record,) = shop.records()
    assert record.method == "custom" and record.choices == {"necessary": True, "statistics": True, "marketing": False}


def test_escape_closes_the_settings_and_gives_focus_back_to_the_opener(shop, visitor):
    page = visitor.goto(shop.page(body='<button data-cookiegate-open id="open">Cookie-indstillinger</button>'))
    visitor.banner().wait_for(state="visible")
    # Escape from the second layer before any choice: back to the first layer, which stays until a choice.
    visitor.click("customise")
    visitor.settings().wait_for(state="visible")
    page.keyboard.press("Escape")
    visitor.banner().wait_for(state="visible")
    # The first layer takes the focus after its first paint, a moment after it is visible.
    wait_until(lambda: shadow_focus(page)["cls"] == "b", message="the first layer did not take the focus")
    visitor.click("reject_all")
    visitor.wait_for_cookie()
    page.locator("#open").focus()
    page.keyboard.press("Enter")
    visitor.settings().wait_for(state="visible")
    assert shadow_focus(page)["inBanner"]
    page.keyboard.press("Escape")
    visitor.settings().wait_for(state="hidden")
    assert shadow_focus(page)["id"] == "open"
    assert len(shop.records()) == 1  # closing is not a choice
