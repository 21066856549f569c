"""Issue 15, what visitors and screen readers notice: no frame around the banner, its own language,
distinct names, a tidy phone layout, dark mode and the site's colours."""
from __future__ import annotations

import requests

from cookiegate.extensions import db
from cookiegate.sites.site import get_site, set_banner_colours

from .conftest import wait_until

PHONE = {"width": 360, "height": 740}
SHADOW = "document.querySelector('cookiegate-banner').shadowRoot"


def test_no_frame_around_the_focused_first_layer_but_a_ring_on_buttons(shop, visitor):
    page = visitor.goto(shop.page())
    visitor.banner().wait_for(state="visible")
    page.wait_for_function(f"{SHADOW}.activeElement !== null")
    focused = page.evaluate(f"(() => {{ const e = {SHADOW}.activeElement; return [e.className, getComputedStyle(e).outlineStyle] }})()")
    assert focused == ["b", "none"]
    page.keyboard.press("Tab")
    ring = page.evaluate(f"(() => {{ const e = {SHADOW}.activeElement; const s = getComputedStyle(e); return [e.tagName, s.outlineStyle, s.outlineWidth] }})()")
    assert ring[1:] == ["solid", "3px"] and ring[0] in ("A", "BUTTON")


def test_the_english_banner_says_it_is_english_and_its_disclosures_have_distinct_names(shop, visitor):
    page = visitor.goto(shop.page(attrs='async data-lang="en"', lang="da"))
    visitor.banner().wait_for(state="visible")
    assert page.evaluate("document.querySelector('cookiegate-banner').lang") == "en"
    assert page.evaluate(f"{SHADOW}.querySelector('[data-cookiegate-action=accept_all]').matches(':lang(en)')") is True
    visitor.click("customise")
    visitor.settings().wait_for(state="visible")
    text = visitor.settings().inner_text()
    assert "Makes the website work" in text and "Helps us see" in text and "Make the website work" not in text
    cdp = visitor.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    names = [n.get("name", {}).get("value") for n in nodes if n.get("role", {}).get("value") == "DisclosureTriangle"]
    assert len(names) == 3 and len(set(names)) == 3, names
    assert all(name.startswith("Services and cookies") for name in names)


def test_on_a_phone_the_buttons_stack_evenly_the_close_button_stays_and_tables_align(shop, visitor_factory):
    visitor = visitor_factory(viewport=PHONE, is_mobile=True, has_touch=True)
    page = visitor.goto(shop.page(head='<meta name="viewport" content="width=device-width, initial-scale=1">'))
    bar = visitor.banner()
    bar.wait_for(state="visible")
    boxes = [bar.locator(f"[data-cookiegate-action={a}]").bounding_box() for a in ("accept_all", "reject_all", "customise")]
    assert len({round(b["x"]) for b in boxes}) == 1 and len({round(b["width"]) for b in boxes}) == 1  # one under the other, no orphan
    assert boxes[0]["width"] > PHONE["width"] * 0.7
    bar_box = bar.bounding_box()
    assert bar_box["y"] + bar_box["height"] - (boxes[-1]["y"] + boxes[-1]["height"]) <= 18  # the padding, no empty space

    visitor.click("customise")
    dialog = visitor.settings()
    dialog.wait_for(state="visible")
    for summary in dialog.locator("summary").all():
        summary.click()
    dialog.evaluate("d => d.scrollTop = d.scrollHeight")
    page.wait_for_timeout(100)
    close = dialog.locator("[data-cookiegate-action=close]")
    box = close.bounding_box()
    hit = page.evaluate(f"([x, y]) => {SHADOW}.elementFromPoint(x, y)?.dataset.cookiegateAction", [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit == "close" and 0 <= box["y"] < PHONE["height"]
    widths = dialog.locator("table").evaluate_all("ts => ts.map(t => Array.from(t.rows[0].cells, c => Math.round(c.getBoundingClientRect().width)))")
    assert len(widths) >= 2 and all(w == widths[0] for w in widths), widths
    # Nothing chosen yet: the withdraw row is gone, and no empty space is left under the buttons.
    last = dialog.locator("[data-cookiegate-action=save]").bounding_box()
    dialog_box = dialog.bounding_box()
    assert dialog_box["y"] + dialog_box["height"] - (last["y"] + last["height"]) <= 18
    switches = page.evaluate(f"""(() => Array.from({SHADOW}.querySelectorAll('[data-cookiegate-category]'), e => [e.disabled, getComputedStyle(e).opacity, getComputedStyle(e).cursor]))()""")
    assert switches[0][0] is True and float(switches[0][1]) < 0.6 and switches[0][2] == "not-allowed"
    assert all(float(s[1]) == 1 for s in switches[1:])


def luminance(rgb: str) -> float:
    r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def bar_colours(page):
    return page.evaluate(f"""(() => {{ const b = {SHADOW}.querySelector('.b'); const a = b.querySelector('[data-cookiegate-action=accept_all]');
        return [getComputedStyle(b).backgroundColor, getComputedStyle(b).color, getComputedStyle(a).backgroundColor, getComputedStyle(a).color] }})()""")


def test_dark_mode_follows_the_visitors_setting(shop, visitor_factory):
    light = visitor_factory(color_scheme="light")
    light.goto(shop.page())
    light.banner().wait_for(state="visible")
    assert bar_colours(light.page) == ["rgb(255, 255, 255)", "rgb(34, 34, 34)", "rgb(11, 79, 138)", "rgb(255, 255, 255)"]
    dark = visitor_factory(color_scheme="dark")
    dark.goto(shop.page())
    dark.banner().wait_for(state="visible")
    background, text, button, button_text = bar_colours(dark.page)
    assert luminance(background) < 50 and luminance(text) > 200 and luminance(button) > 150 and luminance(button_text) < 50


def served_colours(shop, name: str, value: str) -> None:
    """Until both of the live server's workers serve the new colour (their site snapshot lives a second in tests)."""
    url = f"{shop.service}/api/v1/sites/{shop.key}/config"
    wait_until(lambda: all((requests.get(url, timeout=10).json().get("colours") or {}).get(name) == value for _ in range(6)),
               message=f"the live server never served {name} {value}")


def test_the_sites_colours_reach_the_banner(shop, visitor_factory):
    site = get_site(shop.key)
    set_banner_colours(site, {"accent": "#7a1f5c"})
    db.session.commit()
    served_colours(shop, "accent", "#7a1f5c")
    light = visitor_factory(color_scheme="light")
    light.goto(shop.page())
    light.banner().wait_for(state="visible")
    assert bar_colours(light.page)[2:] == ["rgb(122, 31, 92)", "rgb(255, 255, 255)"]
    dark = visitor_factory(color_scheme="dark")  # only an accent: dark mode keeps its own colours
    dark.goto(shop.page())
    dark.banner().wait_for(state="visible")
    assert luminance(bar_colours(dark.page)[0]) < 50

    set_banner_colours(site, {"accent": "#005a32", "background": "#fffbe6", "text": "#1a1a1a"})
    db.session.commit()
    served_colours(shop, "background", "#fffbe6")
    dark = visitor_factory(color_scheme="dark")  # the site chose its background: kept in dark mode
    dark.goto(shop.page())
    dark.banner().wait_for(state="visible")
    assert bar_colours(dark.page) == ["rgb(255, 251, 230)", "rgb(26, 26, 26)", "rgb(0, 90, 50)", "rgb(255, 255, 255)"]
