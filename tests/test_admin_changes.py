"""The admin console's changes as plain functions: each validates everything, applies all or nothing,
and leaves a before/after entry in the audit trail."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from cookiegate import audit_trail
from cookiegate.admin import changes
from cookiegate.errors import Invalid
from cookiegate.extensions import db
from cookiegate.models import ApiToken, AuditEvent, Site
from cookiegate.sites import catalogue
from cookiegate.sites.banner_config import public_config

from .support import consent_body, post_consent

ADMIN = "admin@example.dk"


def site_form(site: Site, **overrides) -> dict:
    form = {
        "name": site.name,
        "origins": "\n".join(site.origins),
        "languages": ", ".join(site.languages),
        "default_language": site.default_language,
        "consent_lifetime_days": str(site.consent_lifetime_days),
        "retention_days": str(site.retention_days),
        "min_group_size": str(site.min_group_size),
        "floating_button": "y" if site.floating_button else "",
        "privacy_policy_url": site.privacy_policy_url or "",
        "timezone": site.timezone,
    }
    form.update(overrides)
    return form


def last_event(action: str) -> AuditEvent:
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id.desc())).scalars().first()


def test_create_site_normalises_origins_one_a_line_and_is_audited(app):
    site = changes.create_site("Fjordkaffe", "https://Shop.Example.dk/\n\n http://localhost:8080 \nhttps://shop.example.dk", ADMIN)
    db.session.commit()
    assert site.origins == ["http://localhost:8080", "https://shop.example.dk"]
    assert [c.slug for c in site.categories] == ["necessary", "statistics", "marketing"]
    event = last_event("site.create")
    assert event.actor == ADMIN and event.site_id == site.id


@pytest.mark.parametrize(
    "origins, line",
    [("https://ok.dk\nftp://files.dk", 2), ("javascript:alert(1)", 1), ("https://shop.dk/path", 1), ("https://u:p@shop.dk", 1)],
)
def test_a_bad_origin_is_refused_naming_its_line(app, origins, line):
    with pytest.raises(Invalid) as error:
        changes.create_site("Shop", origins, ADMIN)
    assert f"Line {line}" in error.value.errors["origins"]
    assert db.session.execute(select(Site)).first() is None


def test_create_site_reports_every_wrong_field_at_once(app):
    with pytest.raises(Invalid) as error:
        changes.create_site("  ", "", ADMIN, privacy_policy_url="javascript:alert(1)")
    assert set(error.value.errors) == {"name", "origins", "privacy_policy_url"}


def test_update_site_applies_every_setting_and_records_only_what_changed(site):
    changed = changes.update_site(
        site,
        site_form(
            site,
            name="Fjordkaffe <b>&</b>",
            consent_lifetime_days="180",
            retention_days="1000",
            min_group_size="10",
            floating_button="",
            privacy_policy_url="https://shop.example.dk/privatliv",
            languages="da, en, de",
            timezone="Europe/Berlin",
        ),
        ADMIN,
    )
    db.session.commit()
    assert changed
    db.session.expire_all()
    assert site.name == "Fjordkaffe <b>&</b>"
    assert (site.consent_lifetime_days, site.retention_days, site.min_group_size) == (180, 1000, 10)
    assert site.floating_button is False
    assert site.languages == ["da", "en", "de"]
    assert site.timezone == "Europe/Berlin"
    event = last_event("site.update")
    assert event.details["before"]["consent_lifetime_days"] == 365
    assert event.details["after"]["consent_lifetime_days"] == 180
    assert "origins" not in event.details["after"]  # unchanged, so not in the diff
    # The banner config follows at once.
    config = public_config(site, "da")
    assert config["lifetime_days"] == 180 and config["floating_button"] is False
    assert config["privacy_policy_url"] == "https://shop.example.dk/privatliv"


def test_an_unchanged_form_changes_nothing_and_records_nothing(site):
    before = db.session.execute(select(AuditEvent)).all()
    assert changes.update_site(site, site_form(site), ADMIN) is False
    assert db.session.execute(select(AuditEvent)).all() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("consent_lifetime_days", "0"),
        ("consent_lifetime_days", "731"),
        ("consent_lifetime_days", "ten"),
        ("retention_days", "-1"),
        ("min_group_size", "0"),
        ("privacy_policy_url", "javascript:alert(1)"),
        ("privacy_policy_url", "data:text/html,hi"),
        ("privacy_policy_url", "/privacy"),
        ("privacy_policy_url", "https://exa mple.dk"),
        ("languages", "da, <script>"),
        ("default_language", "fr"),
        ("timezone", "Mars/Olympus"),
        ("name", "x" * 201),
        ("name", "bad\x00name"),
        ("origins", "shop.example.dk"),
    ],
)
def test_a_bad_setting_is_refused_next_to_its_field_and_nothing_changes(site, field, value):
    before = changes.site_settings(site)
    with pytest.raises(Invalid) as error:
        changes.update_site(site, site_form(site, **{field: value}), ADMIN)
    assert field in error.value.errors
    assert changes.site_settings(site) == before


def test_texts_override_the_shipped_ones_and_empty_means_default(site):
    assert changes.set_texts(site, "da", {"title": "Vi bager cookies", "accept_all": "Ja tak", "reject_all": ""}, ADMIN)
    db.session.commit()
    config = public_config(site, "da")
    assert config["texts"]["title"] == "Vi bager cookies"
    assert config["texts"]["accept_all"] == "Ja tak"
    assert config["texts"]["reject_all"] == "Afvis alle"  # shipped
    assert site.texts["da"] == {"title": "Vi bager cookies", "accept_all": "Ja tak"}
    event = last_event("site.texts")
    assert event.details["language"] == "da"
    assert event.details["after"] == {"title": "Vi bager cookies", "accept_all": "Ja tak"}
    # Setting a text back to the shipped wording removes the override.
    changes.set_texts(site, "da", {"title": "", "accept_all": "Accepter alle"}, ADMIN)
    assert "da" not in site.texts
    assert public_config(site, "en")["texts"]["title"] == "We use cookies"


def test_texts_of_a_language_the_site_lacks_or_with_control_characters_are_refused(site):
    with pytest.raises(Invalid):
        changes.set_texts(site, "fr", {"title": "Bonjour"}, ADMIN)
    with pytest.raises(Invalid) as error:
        changes.set_texts(site, "da", {"title": "a\x07b"}, ADMIN)
    assert "title" in error.value.errors
    with pytest.raises(Invalid):
        changes.set_texts(site, "da", {"accept_all": "x" * 201}, ADMIN)
    assert site.texts == {}


def test_draft_texts_validate_without_applying(site):
    assert changes.draft_texts(site, "da", {"title": "Kladde"}) == {"title": "Kladde"}
    assert site.texts == {}


def test_a_custom_service_with_cookies_appears_in_the_declaration(site):
    service = catalogue.add_service(
        site,
        {"name": "Hotjar", "provider": "Hotjar Ltd.", "category": "statistics", "description_da": "Måler klik.", "description_en": "Measures clicks."},
        ADMIN,
    )
    catalogue.add_cookie(service, {"name": "_hj*", "provider": "", "expiry_days": "365", "purpose_da": "Genkender besøgende", "purpose_en": "Recognises visitors"}, ADMIN)
    catalogue.add_cookie(service, {"name": "_hjSession", "expiry_days": ""}, ADMIN)
    db.session.commit()
    assert service.key == "hotjar"
    da = next(s for s in public_config(site, "da")["services"] if s["key"] == "hotjar")
    assert da["category"] == "statistics" and da["description"] == "Måler klik."
    assert da["cookies"][0] == {"name": "_hj*", "provider": "Hotjar Ltd.", "purpose": "Genkender besøgende", "expiry": "1 år"}
    assert da["cookies"][1]["expiry"] == "Session"
    assert last_event("cookie.create").details["after"]["name"] == "_hjSession"


def test_service_and_cookie_errors_name_their_fields(site):
    with pytest.raises(Invalid) as error:
        catalogue.add_service(site, {"name": "", "category": "nope"}, ADMIN)
    assert {"name", "category"} <= set(error.value.errors)
    with pytest.raises(Invalid) as error:
        catalogue.add_service(site, {"name": "GA", "key": "google_analytics", "category": "statistics"}, ADMIN)
    assert "key" in error.value.errors
    service = catalogue.add_service(site, {"name": "Chat", "category": "necessary"}, ADMIN)
    for bad in ("", "has space", "a;b", "a=b", "x" * 201):
        with pytest.raises(Invalid) as error:
            catalogue.add_cookie(service, {"name": bad}, ADMIN)
        assert "name" in error.value.errors
    with pytest.raises(Invalid) as error:
        catalogue.add_cookie(service, {"name": "ok", "expiry_days": "forever"}, ADMIN)
    assert "expiry_days" in error.value.errors
    catalogue.add_cookie(service, {"name": "chat"}, ADMIN)
    with pytest.raises(Invalid):
        catalogue.add_cookie(service, {"name": "chat"}, ADMIN)


def test_cookie_update_and_delete_are_audited_with_before_and_after(site):
    service = catalogue.add_service(site, {"name": "Chat", "category": "necessary"}, ADMIN)
    cookie = catalogue.add_cookie(service, {"name": "chat", "expiry_days": "1"}, ADMIN)
    assert catalogue.update_cookie(cookie, {"name": "chat", "expiry_days": "30", "purpose_en": "Keeps the chat open"}, ADMIN)
    event = last_event("cookie.update")
    assert event.details["before"]["expiry_days"] == 1 and event.details["after"]["expiry_days"] == 30
    catalogue.delete_cookie(cookie, ADMIN)
    db.session.commit()
    assert service.cookies == []
    assert last_event("cookie.delete").details["before"]["name"] == "chat"


def test_builtin_services_switch_on_change_id_and_off(app):
    site = changes.create_site("Shop", "https://shop.example.dk", ADMIN)
    assert catalogue.set_builtin(site, "google_analytics", "g-abc1234", ADMIN)
    ga = next(s for s in site.services if s.kind == "google_analytics")
    assert ga.settings == {"measurement_id": "G-ABC1234"}
    assert [c.name for c in ga.cookies] == ["_ga", "_ga_ABC1234"]
    assert catalogue.set_builtin(site, "google_analytics", "G-ABC1234", ADMIN) is False
    assert catalogue.set_builtin(site, "google_analytics", "G-NEW9999", ADMIN)
    assert last_event("service.update").details["after"]["settings"] == {"measurement_id": "G-NEW9999"}
    assert [c.name for c in ga.cookies] == ["_ga", "_ga_NEW9999"]  # the declaration follows the id
    with pytest.raises(Invalid) as error:
        catalogue.set_builtin(site, "facebook_pixel", "not-a-pixel", ADMIN)
    assert "pixel_id" in error.value.errors
    assert catalogue.set_builtin(site, "facebook_pixel", "123456789", ADMIN)
    assert catalogue.set_builtin(site, "google_analytics", "", ADMIN)
    db.session.commit()
    assert [s.kind for s in site.services] == ["facebook_pixel"]
    assert public_config(site, "en")["services"][0]["settings"] == {"pixel_id": "123456789"}


def test_categories_can_be_added_renamed_and_removed_but_not_necessary(site):
    category = catalogue.add_category(site, {"slug": "preferences", "name_da": "Præferencer", "name_en": "Preferences"}, ADMIN)
    db.session.commit()
    assert [c["slug"] for c in public_config(site, "en")["categories"]][-1] == "preferences"
    with pytest.raises(Invalid):
        catalogue.add_category(site, {"slug": "preferences"}, ADMIN)
    with pytest.raises(Invalid):
        catalogue.add_category(site, {"slug": "Bad Slug"}, ADMIN)
    catalogue.update_category(category, {"name_en": "Your preferences"}, ADMIN)
    assert public_config(site, "en")["categories"][-1]["name"] == "Your preferences"
    necessary = site.categories[0]
    with pytest.raises(Invalid):
        catalogue.delete_category(necessary, ADMIN)
    statistics = site.categories[1]
    with pytest.raises(Invalid):  # Google Analytics is in it
        catalogue.delete_category(statistics, ADMIN)
    catalogue.delete_category(category, ADMIN)
    db.session.commit()
    assert [c.slug for c in site.categories] == ["necessary", "statistics", "marketing"]


def test_visitors_asked_again_counts_current_unrevoked_choices_without_bots(site, client):
    ids = []
    for _ in range(3):
        answer = post_consent(client, site.key)
        assert answer.status_code == 201
        ids.append(answer.get_json()["consent_id"])
    # The same visitor choosing again is still one visitor.
    again = post_consent(client, site.key, consent_body(token=None, method="accept_all", choices={}))
    assert again.status_code == 201
    token = post_consent(client, site.key).get_json()
    withdrawn = client.post(
        f"/api/v1/sites/{site.key}/consents/{token['consent_id']}/withdraw",
        headers={"X-Cookiegate-Token": token["token"], "Origin": "https://shop.example.dk", "Content-Type": "text/plain"},
        data="{}",
    )
    assert withdrawn.status_code in (200, 201)
    db.session.expire_all()
    assert changes.visitors_asked_again(site) == 4
    # Older than the lifetime: not counted.
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=site.consent_lifetime_days + 1)
    assert changes.visitors_asked_again(site, now=later) == 0


def test_bump_policy_is_refused_when_the_version_moved_since_confirmation(site):
    with pytest.raises(Invalid):
        changes.bump_policy(site, ADMIN, expected_version=7)
    assert changes.bump_policy(site, ADMIN, expected_version=1) == 2
    db.session.commit()
    assert site.policy_version == 2
    assert changes.visitors_asked_again(site) == 0
    event = last_event("site.bump_policy")
    assert event.actor == ADMIN and event.details["policy_version"] == 2


def test_users_get_roles_and_site_access_and_cannot_lock_themselves_out(site):
    admin = changes.create_user({"email": "Boss@Example.dk", "role": "admin", "password": "s3cret-s3cret"}, [], ADMIN)
    marketer = changes.create_user({"email": "m@example.dk", "role": "marketer", "password": "s3cret-s3cret"}, [site.key], ADMIN)
    db.session.commit()
    assert admin.email == "boss@example.dk" and [s.key for s in marketer.sites] == [site.key]
    with pytest.raises(Invalid) as error:
        changes.create_user({"email": "m@example.dk", "role": "boss", "password": "short"}, ["nope"], ADMIN)
    assert set(error.value.errors) == {"email", "role", "password", "sites"}
    assert changes.update_user(marketer, {"role": "marketer", "active": ""}, [], ADMIN, acting_user=admin)
    event = last_event("user.update")
    assert event.details["before"] == {"active": True, "sites": [site.key]}
    assert event.details["after"] == {"active": False, "sites": []}
    with pytest.raises(Invalid):
        changes.update_user(admin, {"role": "marketer", "active": "y"}, [], ADMIN, acting_user=admin)
    assert admin.role == "admin"


def test_api_tokens_are_shown_once_stored_hashed_and_revocable(site):
    user = changes.create_user({"email": "m@example.dk", "role": "marketer", "password": "s3cret-s3cret"}, [site.key], ADMIN)
    token = changes.create_token(user, ADMIN)
    db.session.commit()
    stored = db.session.execute(select(ApiToken)).scalar_one()
    assert token.startswith("cg_") and stored.token_hash != token and token not in str(stored.__dict__)
    assert changes.revoke_token(stored, ADMIN)
    assert changes.revoke_token(stored, ADMIN) is False
    db.session.commit()
    assert stored.revoked
    assert last_event("token.revoke").details["prefix"] == stored.prefix


def test_audit_trail_lists_a_sites_changes_newest_first_and_exports_csv_without_formulas(site):
    changes.update_site(site, site_form(site, name="=HYPERLINK(\"http://evil\")"), "=cmd|' /C calc'!A0")
    changes.set_texts(site, "en", {"description": "Hello, \"world\"\nagain"}, ADMIN)
    db.session.commit()
    rows, total = audit_trail.events(site)
    assert total == 3  # site.create, site.update, site.texts
    assert [r.action for r in rows] == ["site.texts", "site.update", "site.create"]
    parsed = list(csv.reader(io.StringIO(audit_trail.to_csv(audit_trail.all_events(site)))))
    assert parsed[0] == ["time_utc", "actor", "action", "before", "after", "details"]
    update = next(row for row in parsed if row[2] == "site.update")
    assert update[1].startswith("'=")  # a spreadsheet shows it, never runs it
    assert '"name": "=HYPERLINK' in update[4]
    for row in parsed[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@")
