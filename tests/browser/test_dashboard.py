"""The dashboard in a real browser: a marketer logs in, reads the figures and finds them equal to
the API's; nothing breaks the strict CSP; phone-sized pages do not scroll sideways; screenshots
(desktop and phone) are saved under build/screenshots as test artefacts."""
from __future__ import annotations

import datetime as dt
import json

from cookiegate.consents import ConsentRequest, record_batch
from cookiegate.extensions import db
from cookiegate.infra.visitor import Device, Location, Visitor
from cookiegate.models import utcnow
from cookiegate.sites.cache import process_state

from ..support import ROOT, make_site
from ..web_support import PASSWORD, make_user

SCREENSHOTS = ROOT / "build" / "screenshots"
PLACES = [("DK", "Copenhagen"), ("DK", "Aarhus"), ("DK", "Odense"), ("SE", "Malmo"), ("DK", '<b>Køge</b>"')]
DEVICES = [("mobile", "Mobile Safari", "iOS"), ("mobile", "Chrome Mobile", "Android"), ("desktop", "Chrome", "Windows")]


def seed(site, days: int = 20, per_day: int = 60) -> None:
    state = process_state().sites.get(site.key)
    now = utcnow()
    batch = []
    for day in range(days, -1, -1):
        for i in range(per_day + (day * 7) % 23):
            method = ("accept_all", "accept_all", "reject_all", "custom")[(i + day) % 4]
            choices = {"necessary": True, "statistics": method == "accept_all" or (method == "custom" and i % 2 == 0),
                       "marketing": method == "accept_all"}
            country, city = PLACES[(i * 7 + day) % len(PLACES)]
            device = DEVICES[(i + day * 3) % len(DEVICES)]
            moment = now - dt.timedelta(days=day, minutes=(per_day - i) * 5)
            batch.append((ConsentRequest(choices, method, state.policy_version, "", "da" if i % 5 else "en", False),
                          Visitor(Location(country, "", city), Device(*device, False)), moment))
    batch.sort(key=lambda item: item[2])
    record_batch(process_state(), state, batch)


def log_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


def test_marketer_reads_the_same_figures_as_the_api(app, browser, live_server):
    site = make_site(["https://shop.example.dk"])
    site.name = "Fjordkaffe <webshop>"
    db.session.commit()
    seed(site)
    make_user("mia@example.dk", sites=[site])
    context = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    violations = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    try:
        log_in(page, live_server.url, "mia@example.dk")
        page.click(f"a[href='/dashboard/{site.key}/']")
        page.wait_for_selector("[data-metric=consents]")
        shown = {el.get_attribute("data-metric"): json.loads(el.get_attribute("data-value"))
                 for el in page.query_selector_all("[data-metric]")}
        api = page.request.get(f"{live_server.url}/api/v1/sites/{site.key}/stats").json()["totals"]
        for name in ("impressions", "consents", "accept_all", "reject_all", "custom", "withdraw"):
            assert shown[name] == api[name], name
        assert shown["interaction"] == api["rates"]["interaction"]
        assert shown["rate_statistics"] == api["rates"]["statistics"] and shown["rate_marketing"] == api["rates"]["marketing"]
        assert shown["consents"] > 1000
        # Danish number format in the text the reader sees.
        text = page.inner_text("[data-metric=consents] .value")
        assert text == f"{api['consents']:,}".replace(",", ".")
        assert page.query_selector("[data-chart] svg rect") is not None
        assert page.title().startswith("Fjordkaffe <webshop>")
        assert "<b>Køge</b>" in page.inner_text("[data-table=city]") or "other" in page.inner_text("[data-table=city]").lower() \
            or "Andre" in page.inner_text("[data-table=city]")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "dashboard-desktop.png"), full_page=True)

        # The preset and the CSV link work without JavaScript: plain links.
        page.click("[data-preset='7']")
        page.wait_for_selector("[data-preset='7'][aria-current]")
        csv_href = page.get_attribute("a[data-export=csv]", "href")
        assert "from=" in csv_href and "to=" in csv_href and "group_by=day" in csv_href
        csv = page.request.get(live_server.url + csv_href)
        assert csv.status == 200 and csv.headers["content-type"].startswith("text/csv")

        # A phone: readable, nothing wider than the screen.
        phone = browser.new_context(locale="da-DK", viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                    is_mobile=True, has_touch=True)
        phone_page = phone.new_page()
        log_in(phone_page, live_server.url, "mia@example.dk")
        phone_page.goto(f"{live_server.url}/dashboard/{site.key}/")
        overflow = phone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
        phone_page.screenshot(path=str(SCREENSHOTS / "dashboard-phone.png"), full_page=True)
        phone.close()

        # Someone else's site and the admin area are closed to a marketer.
        other = make_site(["https://other.example.dk"])
        response = page.goto(f"{live_server.url}/dashboard/{other.key}/")
        assert response.status == 403
        assert page.request.get(f"{live_server.url}/api/v1/sites/{other.key}/stats").status == 403
        assert page.goto(f"{live_server.url}/admin/").status in (403, 404)

        # Logging out is the POST form.
        page.goto(f"{live_server.url}/dashboard/")
        page.click("[data-action=logout] button")
        page.wait_for_url(f"{live_server.url}/login")
        assert page.goto(f"{live_server.url}/dashboard/{site.key}/").url.startswith(f"{live_server.url}/login")
        assert violations == []
    finally:
        context.close()
