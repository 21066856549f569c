"""An administrator in real Chromium: create a site, add a custom service with a cookie, edit the
Danish banner text and watch the preview change, bump the policy, find a consent by its id,
erase it, read the audit trail and the site's pre-consent audits. Every page is checked with axe-core and at phone width, and
photographed (desktop and phone) into COOKIEGATE_ADMIN_SCREENSHOTS when set (docs/admin/)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from cookiegate.extensions import db
from cookiegate.siteaudit.store import save_audit
from cookiegate.sites.site import get_site

from ..admin_support import PASSWORD, audit_report, make_user
from .test_accessibility import axe_violations

ADMIN = "admin@example.dk"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def shots(tmp_path) -> Path:
    target = os.environ.get("COOKIEGATE_ADMIN_SCREENSHOTS")
    path = Path(target) if target else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def admin_page(app, browser, live_server):
    make_user(ADMIN, "admin")
    context = browser.new_context(locale="da-DK", viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    # Script errors and failed requests (the browser's own favicon guess aside).
    page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource") and errors.append(m.text))
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico") and errors.append(f"{r.status} {r.url}"))
    page.goto(live_server.url + "/login")
    page.fill("input[name=email]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")
    page.console_errors = errors
    yield page
    context.close()


# The outermost elements that stick out to the right (what makes a page scroll sideways).
WIDEST = """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
  && !(e.parentElement.closest('.table-wrap, pre'))).slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)"""


def check(page, shots: Path, name: str) -> None:
    """No serious or critical axe violation, nothing wider than a phone, and a photo of each size."""
    page.wait_for_load_state("load")
    framed = page.locator("iframe[data-preview]").count() > 0
    if framed:
        page.frame_locator("iframe[data-preview]").locator("cookiegate-banner h2").first.wait_for()
    page.wait_for_timeout(300)
    assert axe_violations(page) == [], name
    page.screenshot(path=str(shots / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500 if framed else 100)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    wide = page.evaluate(WIDEST)
    assert overflow <= 1, f"{name} is {overflow}px wider than a phone: {wide}"
    page.screenshot(path=str(shots / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


def banner_title(page) -> str:
    frame = page.frame_locator("iframe[data-preview]")
    return frame.locator("cookiegate-banner h2").first.inner_text()


def test_an_administrator_sets_up_a_site_and_answers_an_erasure_request(admin_page, live_server, shots):
    page = admin_page
    service = live_server.url

    # Create a site.
    page.goto(service + "/admin/")
    check(page, shots, "01-sites")
    page.click("[data-action=new-site]")
    page.fill("input[name=name]", "Fjordkaffe <Vejle>")
    page.fill("textarea[name=origins]", "https://fjordkaffe.dk\nhttps://www.fjordkaffe.dk")
    check(page, shots, "02-new-site")
    page.click("[data-action=create-site]")
    key = page.locator("[data-site-key]").inner_text().strip()
    assert len(key) == 16
    assert f'data-site="{key}"' in page.locator("[data-snippet]").inner_text()
    assert page.locator("h1").first.inner_text() == "Fjordkaffe <Vejle>"  # shown as text, not markup
    check(page, shots, "03-site")

    # Banner colours: the preview follows the field as it is typed, "Preview colours" shows the
    # draft without saving it, "Save" keeps it (and the preview then shows the saved colours).
    accept = page.frame_locator("iframe[data-preview]").locator("[data-cookiegate-action=accept_all]").first
    expect(accept).to_have_css("background-color", "rgb(11, 79, 138)")  # the banner's own accent
    page.fill("#f-colour_accent", "#a50")
    expect(accept).to_have_css("background-color", "rgb(170, 85, 0)")
    page.fill("#f-colour_text", "#eee")
    page.click("[data-action=preview-colours]")
    page.locator("[data-error=colour_text]").wait_for()  # too faint on white, said next to the field
    refused = [e for e in page.console_errors if e.startswith("422 ")]
    # The live preview may have asked about the faint colour too (and been refused) while it was typed.
    assert f"422 {service}/admin/sites/{key}/settings" in refused
    assert set(refused) <= {f"422 {service}/admin/sites/{key}/settings", f"422 {service}/admin/sites/{key}/colours/preview"}
    page.console_errors.clear()  # those 422s were the point
    page.fill("#f-colour_text", "")
    page.click("[data-action=preview-colours]")
    page.locator("[data-previewing]").wait_for()
    expect(accept).to_have_css("background-color", "rgb(170, 85, 0)")
    check(page, shots, "03-site-colours")
    page.click("[data-action=save-settings]")
    page.locator("[data-flash=done]").wait_for()
    assert page.locator("#f-colour_accent").input_value() == "#aa5500"
    expect(accept).to_have_css("background-color", "rgb(170, 85, 0)")

    # Add a custom service with a cookie.
    page.click(f"a[href='/admin/sites/{key}/services']")
    page.fill("#f-name", "Hotjar")
    page.fill("#f-provider", "Hotjar Ltd.")
    page.select_option("#f-category", "statistics")
    page.click("[data-action=add-service]")
    page.fill("#f-cookie-name", "_hjSession_*")
    page.fill("#f-cookie-expiry_days", "1")
    page.fill("#f-cookie-purpose_da", "Husker besøget i et døgn")
    page.click("[data-action=add-cookie]")
    assert page.locator("tr[data-cookie='_hjSession_*']").count() == 1
    check(page, shots, "05-service")
    page.goto(f"{service}/admin/sites/{key}/services")
    declaration = page.locator("[data-declaration=da] tr[data-cookie='_hjSession_*']")
    assert "Husker besøget i et døgn" in declaration.inner_text() and "1 dag" in declaration.inner_text()
    check(page, shots, "04-services")

    # Edit the Danish banner text and see the preview change, before and after saving.
    page.goto(f"{service}/admin/sites/{key}/texts/da")
    page.frame_locator("iframe[data-preview]").locator("cookiegate-banner h2").first.wait_for()
    assert banner_title(page) == "Vi bruger cookies"
    page.fill("#f-title", "Vi bager småkager")
    page.click("[data-action=preview]")
    page.frame_locator("iframe[data-preview]").locator("cookiegate-banner h2", has_text="Vi bager småkager").wait_for()
    assert banner_title(page) == "Vi bager småkager"
    # Typing alone updates the frame too (admin.js asks for a new preview address).
    page.fill("#f-title", "Vi bager småkager hver dag")
    page.frame_locator("iframe[data-preview]").locator("cookiegate-banner h2", has_text="hver dag").wait_for()
    check(page, shots, "06-texts")
    page.click("[data-action=save]")
    page.frame_locator("iframe[data-preview]").locator("cookiegate-banner h2", has_text="hver dag").wait_for()
    config = requests.get(f"{service}/admin/preview/x/api/v1/sites/{key}/config", timeout=5)
    assert config.status_code == 404  # the preview only answers with a token the console signed

    # Bump the policy, with its confirmation step.
    page.goto(f"{service}/admin/sites/{key}/policy")
    assert page.locator("[data-asked-again]").get_attribute("data-asked-again") == "0"
    check(page, shots, "07-policy")
    page.click("[data-action=bump-policy]")
    check(page, shots, "08-policy-confirm")
    page.click("[data-action=confirm]")
    assert page.locator("[data-policy-version]").first.get_attribute("data-policy-version") == "2"

    # A visitor consents on the website (through the public API, as the banner does).
    answer = requests.post(
        f"{service}/api/v1/sites/{key}/consents",
        data=json.dumps({"choices": {"statistics": True, "marketing": False}, "method": "custom", "policy_version": 2,
                         "url": "https://fjordkaffe.dk/kaffe?kampagne=jul", "language": "da", "gpc": False}),
        headers={"Origin": "https://fjordkaffe.dk", "Content-Type": "text/plain"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    consent_id = answer.json()["consent_id"]

    # Find the consent by its id, then erase it.
    page.goto(f"{service}/admin/sites/{key}/consents")
    page.fill("input[name=consent_id]", consent_id)
    page.click("[data-action=find]")
    page.wait_for_url(f"**/consents?consent_id={consent_id}")
    assert page.locator("[data-records] tbody tr").count() == 1
    assert "https://fjordkaffe.dk/kaffe" in page.locator("[data-records]").inner_text()
    check(page, shots, "09-consent")
    page.click("[data-action=erase]")
    check(page, shots, "10-erase-confirm")
    page.click("[data-action=confirm]")
    page.locator("[data-flash=done]").wait_for()
    # Tombstones keep no consent id, so the consent is found only as erased, with nothing of it shown.
    assert page.locator("[data-consent] [data-erased]").count() == 1
    assert page.locator("[data-records]").count() == 0
    assert "kaffe" not in page.locator("[data-consent]").inner_text()
    # The log's integrity: checked only when asked (it reads the whole log); no checkpoint yet, so amber.
    assert page.locator("[data-verify]").count() == 0
    page.click("[data-action=verify-log]")
    assert page.locator("[data-verified] [data-verify]").get_attribute("data-verify") == "amber"
    assert axe_violations(page) == []

    # Read the audit trail: every step above, by this administrator.
    page.goto(f"{service}/admin/sites/{key}/audit")
    actions = page.locator("tr[data-action]").evaluate_all("rows => rows.map(r => r.dataset.action)")
    expected = ["site.create", "site.banner_colours", "service.create", "cookie.create", "site.texts", "site.bump_policy", "consent.erase", "log.verify"]
    for action in expected:
        assert action in actions, action
    assert page.locator("tr[data-action='site.texts']").first.inner_text().count(ADMIN) == 1
    assert "Vi bager småkager hver dag" in page.locator("tr[data-action='site.texts']").first.inner_text()
    check(page, shots, "11-audit")
    with page.expect_download() as download:
        page.click("a[data-export=csv]")
    assert "site.bump_policy" in Path(download.value.path()).read_text(encoding="utf-8")

    # Users and API tokens.
    page.goto(f"{service}/admin/users/")
    check(page, shots, "12-users")

    # The site's pre-consent audits: `cookiegate audit URL --site KEY` kept one (stored here from
    # a report, without running an audit); the history, then the audit with its declaration difference.
    site = get_site(key)
    save_audit(site, audit_report("https://fjordkaffe.dk/", leak="_hj<Session>"))
    db.session.commit()
    page.goto(f"{service}/admin/sites/{key}/")
    page.click(f"a[href='/admin/sites/{key}/audits']")
    row = page.locator("tr[data-audit]")
    assert row.count() == 1 and row.get_attribute("data-verdict") == "fail"
    assert "Ikke bestået" in row.locator("td[data-pass=no_choice]").inner_text()
    check(page, shots, "13-site-audits")
    row.locator("a").click()
    assert page.locator("[data-pass=no_choice] tr[data-finding]").count() == 2
    # This site declares no Google Analytics, so _ga is undeclared too; names are shown as text.
    assert page.locator("[data-undeclared] td code").all_inner_texts() == ["_ga", "_hj<Session>"]
    assert page.locator("tr[data-unseen-name='_fbp']").count() == 0  # this site has no pixel
    assert page.locator("tr[data-unseen-name='_hjSession_*']").count() == 1
    check(page, shots, "14-site-audit")
    assert page.console_errors == []


def test_a_marketer_is_refused_the_console(app, browser, live_server, site):
    make_user("m@example.dk", "marketer", [site])
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(live_server.url + "/login")
    page.fill("input[name=email]", "m@example.dk")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard/")
    answer = page.goto(live_server.url + "/admin/")
    assert answer.status == 403
    assert page.locator("h1").inner_text()  # a readable page, not a stack trace
    # Except the audit history of their own site, which the dashboard links to.
    page.goto(f"{live_server.url}/dashboard/{site.key}/")
    page.click("a[data-link=audits]")
    assert page.locator("h1").inner_text() == "Pre-consent audits"
    assert page.locator("[data-no-audits]").count() == 1
    context.close()
