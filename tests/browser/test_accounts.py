"""People and their passwords in real Chromium: an administrator names an API token, makes a
one-time reset link and passes it on; the marketer opens it in their own browser, sets a
password, logs in with it and changes it again (the current one required); the administrator
sets a password and deletes the user. Every page is checked with axe-core and at phone width
(and photographed into COOKIEGATE_ADMIN_SCREENSHOTS when set)."""
from __future__ import annotations

from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.models import User

from ..admin_support import make_user
from .test_admin_console import ADMIN, admin_page, check, shots  # noqa: F401 (fixtures)

MARKETER = "mia@example.dk"
CHOSEN = "espresso every morning"
CHANGED = "filter coffee at noon"


def log_in(page, service: str, email: str, password: str) -> None:
    page.goto(service + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_reset_link_passed_on_by_an_admin_lets_a_marketer_choose_a_password(admin_page, browser, live_server, site, shots):  # noqa: F811
    page, service = admin_page, live_server.url
    make_user(MARKETER, "marketer", [site])
    person_id = db.session.execute(select(User.id).where(User.email == MARKETER)).scalar_one()

    page.goto(f"{service}/admin/users/{person_id}")
    # A token needs a name: the error stands next to the field, in Danish.
    page.click("[data-action=create-token]")
    assert page.locator("#e-token-name").inner_text().endswith("Skal udfyldes.")
    assert page.locator("#f-token-name").get_attribute("aria-invalid") == "true"
    check(page, shots, "15-user-errors")
    assert [e.split()[0] for e in page.console_errors] == ["422"]  # that answer, and nothing else, was an error
    page.console_errors.clear()
    page.fill("#f-token-name", "Power BI-rapport")
    page.click("[data-action=create-token]")
    assert page.locator("[data-new-token]").inner_text().startswith("cg_")
    assert page.locator("[data-new-token-name]").inner_text() == "Power BI-rapport"
    page.goto(f"{service}/admin/users/{person_id}")
    assert page.locator("[data-token-name]").inner_text() == "Power BI-rapport"
    check(page, shots, "16-user")

    page.click("[data-action=reset-link]")
    link = page.locator("[data-reset-link]").inner_text()
    assert link.startswith(service + "/password/reset?token=")
    check(page, shots, "17-reset-link")

    marketer_context = browser.new_context(locale="en-GB")
    marketer = marketer_context.new_page()
    marketer.goto(link)
    assert MARKETER in marketer.locator("main").inner_text()
    marketer.fill("#f-new_password", CHOSEN)
    marketer.fill("#f-confirm", "espresso every evening")
    marketer.click("[data-action=set-password]")
    assert marketer.locator("#e-confirm").inner_text().endswith("The two passwords differ.")
    check(marketer, shots, "18-reset-errors")
    marketer.fill("#f-new_password", CHOSEN)
    marketer.fill("#f-confirm", CHOSEN)
    marketer.click("[data-action=set-password]")
    marketer.wait_for_url("**/login")
    assert "Your new password is set" in marketer.locator("[data-flash=done]").inner_text()
    log_in(marketer, service, MARKETER, CHOSEN)
    marketer.wait_for_url("**/dashboard/")
    # The link worked once.
    marketer.goto(link)
    assert marketer.locator("[data-error=reset-link]").count() == 1
    check(marketer, shots, "19-reset-used")

    # Their own password: the current one first.
    marketer.goto(service + "/dashboard/")
    marketer.click("[data-nav=password]")
    marketer.fill("#f-current_password", "not the password")
    marketer.fill("#f-new_password", CHANGED)
    marketer.fill("#f-confirm", CHANGED)
    marketer.click("[data-action=change-password]")
    assert marketer.locator("#e-current_password").inner_text().endswith("Not your current password.")
    check(marketer, shots, "20-password-errors")
    marketer.fill("#f-current_password", CHOSEN)
    marketer.fill("#f-new_password", CHANGED)
    marketer.fill("#f-confirm", CHANGED)
    marketer.click("[data-action=change-password]")
    marketer.locator("[data-flash=done]").wait_for()
    check(marketer, shots, "21-password-changed")
    assert marketer.goto(service + "/dashboard/").status == 200  # this browser stays logged in

    # The admin sets a password: the marketer's browser is logged out at its next request.
    page.goto(f"{service}/admin/users/{person_id}")
    page.fill("#f-new_password", "set by the administrator")
    page.fill("#f-confirm", "set by the administrator")
    page.click("[data-action=set-password]")
    page.locator("[data-flash=done]").wait_for()
    marketer.goto(service + "/dashboard/")
    assert "/login" in marketer.url

    # And deletes the user, after typing their address.
    page.click("[data-action=delete-user]")
    check(page, shots, "22-delete-user")
    page.fill("#f-email", MARKETER)
    page.click("[data-action=confirm]")
    page.locator("[data-flash=done]").wait_for()
    assert page.locator(f"tr[data-user='{MARKETER}']").count() == 0
    page.goto(f"{service}/admin/audit")
    assert page.locator("tr[data-action='user.delete']").count() == 1
    assert page.console_errors == []
    marketer_context.close()


def test_your_own_account_page_in_the_console_points_to_the_password_page(admin_page, live_server, shots):  # noqa: F811
    page = admin_page
    me = db.session.execute(select(User.id).where(User.email == ADMIN)).scalar_one()
    page.goto(f"{live_server.url}/admin/users/{me}")
    assert page.locator("[data-action=set-password]").count() == 0 and page.locator("[data-action=delete-user]").count() == 0
    page.click("main a[href='/account/password']")
    page.wait_for_url("**/account/password")
    check(page, shots, "23-own-password")
