"""Banner colours on the site's settings form: validated field by field (errors next to the
field), recorded in the audit trail with before/after, delivered in the banner config, and
shown in the preview before they are saved."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import select

from cookiegate.admin import changes
from cookiegate.errors import Invalid
from cookiegate.extensions import db
from cookiegate.models import AuditEvent
from cookiegate.sites.banner_config import public_config

from .admin_support import Console, make_user
from .test_admin_changes import site_form

ADMIN = "admin@example.dk"


def colour_form(site, accent="", background="", text="", **overrides) -> dict:
    return site_form(site, colour_accent=accent, colour_background=background, colour_text=text, **overrides)


def colour_events() -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == "site.banner_colours").order_by(AuditEvent.id)).scalars())


def test_colours_are_stored_delivered_and_audited_with_before_and_after(site):
    assert changes.update_site(site, colour_form(site, accent="#A50", text="#111111"), ADMIN) is True
    db.session.commit()
    assert site.banner_colours == {"accent": "#aa5500", "text": "#111111"}
    assert public_config(site, "da")["colours"] == {"accent": "#aa5500", "text": "#111111", "on_accent": "#ffffff"}
    assert changes.update_site(site, colour_form(site, accent="#aa5500", text="#111111"), ADMIN) is False  # unchanged
    assert changes.update_site(site, colour_form(site), ADMIN) is True  # all empty: the banner's own colours
    db.session.commit()
    assert site.banner_colours == {}
    first, second = colour_events()
    assert (first.actor, first.details["before"], first.details["after"]) == (ADMIN, {"colours": {}}, {"colours": {"accent": "#aa5500", "text": "#111111"}})
    assert second.details["before"] == {"colours": {"accent": "#aa5500", "text": "#111111"}} and second.details["after"] == {"colours": {}}
    # Changing a setting and nothing of the colours records only the setting.
    assert changes.update_site(site, colour_form(site, name="Renamed"), ADMIN) is True
    assert len(colour_events()) == 2


def test_a_form_without_colour_fields_leaves_the_colours_alone(site):
    changes.update_site(site, colour_form(site, accent="#aa5500"), ADMIN)
    assert changes.update_site(site, site_form(site, name="Renamed"), ADMIN) is True
    assert site.banner_colours == {"accent": "#aa5500"}


@pytest.mark.parametrize(
    "given, field, says",
    [
        ({"accent": "blue"}, "colour_accent", "#rgb or #rrggbb"),
        ({"background": "#12345"}, "colour_background", "#rgb or #rrggbb"),
        ({"text": "#fff;}"}, "colour_text", "#rgb or #rrggbb"),
        ({"text": "#eeeeee"}, "colour_text", "contrast 1.2:1, at least 4.5:1"),
        ({"accent": "#ffff00"}, "colour_accent", "at least 4.5:1"),
        ({"background": "#000000"}, "colour_background", "at least 4.5:1"),  # the default text on it
        ({"background": "#000000", "text": "#ffffff", "accent": "#0b4f8a"}, "colour_accent", "at least 4.5:1"),
    ],
)
def test_a_bad_colour_is_refused_next_to_its_field_and_nothing_changes(site, given, field, says):
    changes.update_site(site, colour_form(site, accent="#aa5500"), ADMIN)
    db.session.commit()
    with pytest.raises(Invalid) as error:
        changes.update_site(site, colour_form(site, name="Renamed", **given), ADMIN)
    assert list(error.value.errors) == [field] and says in error.value.errors[field]
    db.session.rollback()
    assert site.banner_colours == {"accent": "#aa5500"} and site.name == "Test shop"


def test_draft_colours_validate_without_applying(site):
    assert changes.draft_colours({"colour_accent": "#a50", "colour_text": ""}) == {"accent": "#aa5500"}
    with pytest.raises(Invalid):
        changes.draft_colours({"colour_accent": "#ffff00"})
    assert site.banner_colours == {} and colour_events() == []


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def console(app):
    make_user(ADMIN, "admin")
    return Console(app.test_client(), ADMIN).login()


def frame_config(client, page_html: str, key: str) -> dict:
    frame = unescape(re.search(r'<iframe class="preview" src="([^"]+)"', page_html).group(1))
    token = frame.split("/")[3]
    return client.get(f"/admin/preview/{token}/api/v1/sites/{key}/config?lang=da").get_json()


def test_the_settings_page_previews_colours_before_saving_and_saves_them(console, client, site):
    key = site.key
    page = console.get(f"/admin/sites/{key}/")
    assert 'id="f-colour_accent"' in page.text and "data-colours" in page.text
    assert frame_config(client, page.text, key)["colours"] == {}
    preview = console.post(f"/admin/sites/{key}/settings", colour_form(site, accent="#aa5500", action="preview"))
    assert preview.status_code == 200 and "data-previewing" in preview.text and 'value="#aa5500"' in preview.text
    assert frame_config(client, preview.text, key)["colours"] == {"accent": "#aa5500", "on_accent": "#ffffff"}
    db.session.expire_all()
    assert site.banner_colours == {} and colour_events() == []  # a preview saves nothing
    live = console.post(f"/admin/sites/{key}/colours/preview", {"colour_accent": "#060"})
    assert live.status_code == 200 and "/admin/preview/" in live.get_json()["url"]
    assert console.post(f"/admin/sites/{key}/colours/preview", {"colour_accent": "#ff0"}).status_code == 422
    saved = console.post(f"/admin/sites/{key}/settings", colour_form(site, accent="#aa5500", action="save"))
    assert saved.status_code == 303
    db.session.expire_all()
    assert site.banner_colours == {"accent": "#aa5500"}
    page = console.get(f"/admin/sites/{key}/")
    assert 'value="#aa5500"' in page.text
    assert frame_config(client, page.text, key)["colours"]["accent"] == "#aa5500"  # the preview shows the saved colours
    assert colour_events()[0].actor == ADMIN


def test_a_bad_colour_is_shown_next_to_its_field_in_danish_and_english(console, site):
    key = site.key
    for lang, says in (("da", "Svær at læse på baggrunden: kontrast 1.2:1, mindst 4.5:1."), ("en", "Hard to read on the background")):
        answer = console.post(f"/admin/sites/{key}/settings?lang={lang}", colour_form(site, text="#eeeeee", action="save"))
        assert answer.status_code == 422
        assert 'data-error="colour_text"' in answer.text and says in answer.text
        field = re.search(r'<input id="f-colour_text"[^>]*>', answer.text).group(0)
        assert 'aria-invalid="true"' in field and "e-colour_text" in field and 'value="#eeeeee"' in field
    hostile = console.post(f"/admin/sites/{key}/settings", colour_form(site, accent='"><script>alert(1)</script>', action="preview"))
    assert hostile.status_code == 422 and "<script>alert(1)" not in hostile.text
    db.session.expire_all()
    assert site.banner_colours == {}
