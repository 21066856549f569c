"""The admin console over HTTP: admins only, CSRF on every form, escaping, field errors,
confirmation before destructive steps, the banner preview, the consent log and the audit trail."""
from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import pytest
from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.models import ApiToken, AuditEvent, ConsentRecord, Site, User
from cookiegate.sites.banner_config import public_config

from .admin_support import Console, make_user
from .support import post_consent

ADMIN = "admin@example.dk"
HOSTILE = '<script>alert("x")</script>"\'><img src=x onerror=alert(1)>'


@pytest.fixture
def console(app):
    make_user(ADMIN, "admin")
    return Console(app.test_client(), ADMIN).login()


def fresh(obj):
    db.session.expire_all()
    return obj


def site_pages(key: str) -> list[str]:
    return [
        "/admin/",
        "/admin/sites/new",
        f"/admin/sites/{key}/",
        f"/admin/sites/{key}/texts/da",
        f"/admin/sites/{key}/services",
        f"/admin/sites/{key}/services/google_analytics",
        f"/admin/sites/{key}/categories/statistics",
        f"/admin/sites/{key}/policy",
        f"/admin/sites/{key}/consents",
        f"/admin/sites/{key}/audit",
        "/admin/users/",
        "/admin/audit",
    ]


def test_a_marketer_gets_403_and_a_stranger_the_login_page(app, site):
    make_user("m@example.dk", "marketer", [site])
    marketer = Console(app.test_client(), "m@example.dk").login()
    for path in site_pages(site.key) + [f"/admin/sites/{site.key}/audit.csv"]:
        assert marketer.get(path).status_code == 403, path
    forbidden = marketer.get("/admin/")
    assert "text/html" in forbidden.content_type
    with app.app_context():
        stranger = app.test_client().get(f"/admin/sites/{site.key}/")
    assert stranger.status_code in (302, 303) and "/login" in stranger.headers["Location"]


def test_every_page_renders_with_a_strict_policy(console, site):
    for path in site_pages(site.key):
        page = console.get(path)
        assert page.status_code == 200, path
        policy = page.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy, path
        assert "script-src 'self'" in policy
        assert page.headers["X-Frame-Options"] == "DENY"
        assert "<script>" not in page.text and " style=" not in page.text and "onclick" not in page.text, path
    # Only pages that show the banner preview may frame it, and only from this service.
    assert "frame-src 'self'" in console.get(f"/admin/sites/{site.key}/texts/da").headers["Content-Security-Policy"]
    assert "frame-src 'self'" in console.get(f"/admin/sites/{site.key}/").headers["Content-Security-Policy"]  # the colours' preview
    assert "frame-src" not in console.get(f"/admin/sites/{site.key}/services").headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path, data",
    [
        ("/admin/sites/new", {"name": "Shop", "origins": "https://shop.example.dk"}),
        ("/admin/sites/{key}/settings", {"name": "Hacked"}),
        ("/admin/sites/{key}/texts/da", {"title": "Hacked", "action": "save"}),
        ("/admin/sites/{key}/services", {"name": "Evil", "category": "marketing"}),
        ("/admin/sites/{key}/builtin/google_analytics", {"measurement_id": ""}),
        ("/admin/sites/{key}/policy", {"confirm": "yes", "policy_version": "1"}),
        ("/admin/sites/{key}/consents/erase", {"confirm": "yes", "consent_id": "0" * 32}),
        ("/admin/users/", {"email": "evil@example.dk", "role": "admin", "password": "x" * 12}),
    ],
)
def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(console, site, path, data):
    before = db.session.execute(select(AuditEvent.id)).all()
    answer = console.post(path.format(key=site.key), data, csrf=False)
    assert answer.status_code in (400, 403)
    answer = console.post(path.format(key=site.key), {**data, "csrf_token": "forged"}, csrf=False)
    assert answer.status_code in (400, 403)
    db.session.rollback()
    assert db.session.execute(select(AuditEvent.id)).all() == before
    assert fresh(site).name == "Test shop" and site.policy_version == 1


def test_creating_a_site_shows_its_key_and_embed_snippet_and_audits_who(console, app):
    answer = console.post("/admin/sites/new", {"name": "Fjordkaffe", "origins": "https://fjordkaffe.dk\nhttps://www.fjordkaffe.dk"})
    assert answer.status_code == 303
    page = console.get(answer.headers["Location"])
    key = re.search(r'<code data-site-key>([^<]+)</code>', page.text).group(1)
    site = db.session.execute(select(Site).where(Site.key == key)).scalar_one()
    assert site.origins == ["https://fjordkaffe.dk", "https://www.fjordkaffe.dk"]
    snippet = unescape(re.search(r"<code id=\"snippet\" data-snippet>([^<]+)</code>", page.text).group(1))
    assert snippet == f'<script src="http://localhost/banner/v1/cookiegate.js" data-site="{key}" async></script>'
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "site.create")).scalar_one()
    assert event.actor == ADMIN and event.site_id == site.id


def test_a_bad_field_is_marked_next_to_it_and_the_form_keeps_what_was_typed(console):
    answer = console.post("/admin/sites/new", {"name": "Fjordkaffe", "origins": "https://ok.dk\nnot an origin"})
    assert answer.status_code == 422
    html = answer.text
    # The console speaks Danish first: the message names the line, next to the field it is about.
    error = re.search(r'<[^>]*data-error="origins"[^>]*>(.*?)</', html, re.S)
    assert error and "Linje 2 er ikke en oprindelse" in error.group(1), html
    field = re.search(r'<textarea id="f-origins"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in field and "e-origins" in field
    assert "not an origin</textarea>" in html
    assert 'value="Fjordkaffe"' in html
    assert db.session.execute(select(Site)).first() is None


def test_hostile_names_texts_and_cookie_names_are_shown_escaped_everywhere(console, site):
    key = site.key
    assert console.post(f"/admin/sites/{key}/settings", {
        "name": HOSTILE, "origins": "\n".join(site.origins), "languages": "da, en", "default_language": "da",
        "consent_lifetime_days": "365", "retention_days": "730", "min_group_size": "5", "timezone": "Europe/Copenhagen",
        "floating_button": "y", "privacy_policy_url": "",
    }).status_code == 303
    assert console.post(f"/admin/sites/{key}/texts/da", {"title": HOSTILE, "description": HOSTILE, "action": "save"}).status_code == 303
    assert console.post(f"/admin/sites/{key}/services", {"name": HOSTILE, "category": "marketing", "key": "evil", "description_da": HOSTILE}).status_code == 303
    assert console.post(f"/admin/sites/{key}/services/evil/cookies", {"name": "<svg/onload>alert(1)</svg>", "purpose_da": HOSTILE}).status_code == 303
    for path in site_pages(key) + [f"/admin/sites/{key}/services/evil", "/admin/sites/new"]:
        html = console.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<svg/onload>" not in html, path
    services = console.get(f"/admin/sites/{key}/services").text
    assert "&lt;svg/onload&gt;alert(1)&lt;/svg&gt;" in services  # in the declaration, as text
    audit = console.get(f"/admin/sites/{key}/audit").text
    assert "&lt;script&gt;" in audit or "\\u003cscript\\u003e" in audit


def test_texts_preview_shows_the_draft_without_saving_it_and_save_publishes(console, site, client):
    key = site.key
    preview = console.post(f"/admin/sites/{key}/texts/da", {"title": "Kladde: vi bager småkager", "action": "preview"})
    assert preview.status_code == 200
    assert fresh(site).texts == {}
    frame = re.search(r'<iframe class="preview" src="([^"]+)" sandbox="allow-scripts"', preview.text).group(1)
    frame = unescape(frame)
    assert client.get(frame).status_code == 404  # the frame's page answers the admin's own session only
    page = console.get(frame)
    assert page.status_code == 200
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in page.headers["Content-Security-Policy"]
    assert f'data-site="{key}"' in page.text and 'data-lang="da"' in page.text
    token = frame.split("/")[3]
    config = client.get(f"/admin/preview/{token}/api/v1/sites/{key}/config?lang=da")
    assert config.get_json()["texts"]["title"] == "Kladde: vi bager småkager"
    assert config.headers["Access-Control-Allow-Origin"] == "*"
    banner = client.get(f"/admin/preview/{token}/banner/v1/cookiegate.js")
    assert banner.status_code == 200 and banner.data == client.get("/banner/v1/cookiegate.js").data  # the very script visitors get
    # What the preview sends is dropped: no consent, no impression.
    assert client.post(f"/admin/preview/{token}/api/v1/sites/{key}/consents", data="{}").status_code == 204
    assert db.session.execute(select(ConsentRecord)).first() is None
    # A forged or altered token shows nothing.
    assert client.get(f"/admin/preview/{token[:-2]}xx/api/v1/sites/{key}/config").status_code == 404
    live = console.post(f"/admin/sites/{key}/texts/da/preview", {"title": "Live"})
    assert live.status_code == 200 and "/admin/preview/" in live.get_json()["url"]
    saved = console.post(f"/admin/sites/{key}/texts/da", {"title": "Vi bager småkager", "action": "save"})
    assert saved.status_code == 303
    assert public_config(fresh(site), "da")["texts"]["title"] == "Vi bager småkager"


def test_a_custom_service_and_its_cookie_show_in_the_declaration(console, site):
    key = site.key
    assert console.post(f"/admin/sites/{key}/services", {"name": "Hotjar", "provider": "Hotjar Ltd.", "category": "statistics"}).status_code == 303
    bad = console.post(f"/admin/sites/{key}/services/hotjar/cookies", {"name": "has space", "expiry_days": "x"})
    assert bad.status_code == 422 and 'data-error="name"' in bad.text and 'data-error="expiry_days"' in bad.text
    assert console.post(f"/admin/sites/{key}/services/hotjar/cookies", {"name": "_hjSession", "expiry_days": "1", "purpose_da": "Husker sessionen"}).status_code == 303
    page = console.get(f"/admin/sites/{key}/services").text
    row = re.search(r'<tr data-cookie="_hjSession">(.*?)</tr>', page).group(1)
    assert "Hotjar Ltd." in row and "Husker sessionen" in row and "1 dag" in row


def test_deleting_needs_a_confirmation_step(console, site):
    key = site.key
    console.post(f"/admin/sites/{key}/services", {"name": "Chat", "category": "necessary"})
    ask = console.get(f"/admin/sites/{key}/services/chat/delete")
    assert ask.status_code == 200 and 'data-action="confirm"' in ask.text
    assert console.post(f"/admin/sites/{key}/services/chat/delete", {}).status_code == 200  # asks again
    assert any(s.key == "chat" for s in fresh(site).services)
    assert console.post(f"/admin/sites/{key}/services/chat/delete", {"confirm": "yes"}).status_code == 303
    assert not any(s.key == "chat" for s in fresh(site).services)


def test_policy_bump_asks_first_counts_visitors_and_then_raises_the_version(console, site, client):
    for _ in range(3):
        assert post_consent(client, site.key).status_code == 201
    page = console.get(f"/admin/sites/{site.key}/policy")
    assert 'data-asked-again="3"' in page.text and 'data-action="bump-policy"' in page.text
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]
    ask = console.post(f"/admin/sites/{site.key}/policy", {})
    assert ask.status_code == 200 and 'data-action="confirm"' in ask.text
    assert fresh(site).policy_version == 1
    stale = console.post(f"/admin/sites/{site.key}/policy", {"confirm": "yes", "policy_version": "0"})
    assert stale.status_code == 409 and fresh(site).policy_version == 1
    done = console.post(f"/admin/sites/{site.key}/policy", {"confirm": "yes", "policy_version": "1"})
    assert done.status_code == 303
    assert fresh(site).policy_version == 2
    assert 'data-asked-again="0"' in console.get(f"/admin/sites/{site.key}/policy").text
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "site.bump_policy")).scalar_one()
    assert event.actor == ADMIN


def test_the_consent_log_finds_a_consent_by_id_and_exports_its_receipt_audited(console, site, client):
    answer = post_consent(client, site.key).get_json()
    consent_id = answer["consent_id"]
    found = console.get(f"/admin/sites/{site.key}/consents?consent_id={consent_id.upper()}")
    assert found.status_code == 200
    assert f'data-consent="{consent_id}"' in found.text and "data-receipt" in found.text
    assert "https://shop.example.dk/kurv" in found.text and "x=1" not in found.text
    assert console.get(f"/admin/sites/{site.key}/consents?consent_id={'0' * 32}").status_code == 404
    bad = console.get(f"/admin/sites/{site.key}/consents?consent_id=%3Cscript%3E")
    assert bad.status_code == 422 and 'data-error="consent_id"' in bad.text and "<script>" not in bad.text
    export = console.post(f"/admin/sites/{site.key}/consents/export", {"consent_id": consent_id})
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    assert consent_id in export.get_data(as_text=True)
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "consent.export")).scalar_one()
    assert event.actor == ADMIN and consent_id not in json.dumps(event.details)


def test_erasing_from_the_console_confirms_first_then_finds_the_consent_only_as_erased(console, site, client):
    consent_id = post_consent(client, site.key).get_json()["consent_id"]
    ask = console.post(f"/admin/sites/{site.key}/consents/erase", {"consent_id": consent_id})
    assert ask.status_code == 200 and 'data-action="confirm"' in ask.text
    assert db.session.execute(select(ConsentRecord.consent_id)).scalar_one() == consent_id  # nothing erased yet
    assert console.post(f"/admin/sites/{site.key}/consents/erase", {"consent_id": consent_id, "confirm": "yes"}).status_code == 303
    db.session.expire_all()
    # A tombstone, and the erasure's own removal record after it.
    erased = db.session.execute(select(ConsentRecord.consent_id, ConsentRecord.kind).order_by(ConsentRecord.seq)).all()
    assert [tuple(row) for row in erased] == [(None, "consent"), (None, "removal")]
    found = console.get(f"/admin/sites/{site.key}/consents?consent_id={consent_id}")
    assert found.status_code == 200 and "data-erased" in found.text
    assert "data-records" not in found.text and "shop.example.dk/kurv" not in found.text
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "consent.erase")).scalar_one()
    assert event.actor == ADMIN and consent_id not in json.dumps(event.details)


def test_the_audit_trail_is_browsable_and_exports_csv(console, site):
    console.post(f"/admin/sites/{site.key}/settings", {
        "name": "Renamed", "origins": "\n".join(site.origins), "languages": "da, en", "default_language": "da",
        "consent_lifetime_days": "200", "retention_days": "730", "min_group_size": "5", "timezone": "Europe/Copenhagen",
        "floating_button": "y", "privacy_policy_url": "",
    })
    page = console.get(f"/admin/sites/{site.key}/audit")
    assert '<tr data-action="site.update">' in page.text and ADMIN in page.text
    assert "&#34;consent_lifetime_days&#34;: 365" in page.text or '"consent_lifetime_days": 365' in unescape(page.text)
    exported = console.get(f"/admin/sites/{site.key}/audit.csv")
    assert exported.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    update = next(r for r in rows if r["action"] == "site.update")
    assert update["actor"] == ADMIN
    assert json.loads(update["before"])["name"] == "Test shop" and json.loads(update["after"])["name"] == "Renamed"


def test_the_audit_trail_pages_keep_the_action_filter(console, site, monkeypatch):
    from cookiegate import audit_trail
    from cookiegate.admin import audit_trail_views

    monkeypatch.setattr(audit_trail_views, "PER_PAGE", 2)
    for i in range(5):
        audit_trail.record("cli", "site.texts", site=db.session.get(Site, site.id), n=i)
    audit_trail.record("cli", "service.create", site=db.session.get(Site, site.id))
    db.session.commit()
    first = console.get(f"/admin/sites/{site.key}/audit?action=site.texts").text
    assert 'href="?action=site.texts&amp;page=2" rel="next"' in first
    last = console.get(f"/admin/sites/{site.key}/audit?action=site.texts&page=3").text
    assert 'href="?action=site.texts&amp;page=2" rel="prev"' in last and 'rel="next"' not in last
    assert "service.create" not in last


def test_users_tokens_shown_once_last_use_and_revocation(console, site, app):
    created = console.post("/admin/users/", {"email": "m@example.dk", "role": "marketer", "password": "s3cret-s3cret", "sites": site.key})
    assert created.status_code == 303
    user = db.session.execute(select(User).where(User.email == "m@example.dk")).scalar_one()
    assert [s.key for s in user.sites] == [site.key]
    # A token is named for what it is for: without a name, the error stands next to the field.
    unnamed = console.post(f"/admin/users/{user.id}/tokens?lang=da", {"name": "  "})
    assert unnamed.status_code == 422 and 'id="e-token-name" data-error="name">Skal udfyldes.' in unnamed.text
    assert db.session.execute(select(ApiToken)).first() is None
    shown = console.post(f"/admin/users/{user.id}/tokens", {"name": "Power BI <report>"})
    token = re.search(r"<code id=\"new-token\" data-new-token>([^<]+)</code>", shown.text).group(1)
    assert token.startswith("cg_") and "Power BI &lt;report&gt;" in shown.text
    page = console.get(f"/admin/users/{user.id}")
    assert token not in page.text and token[:10] in page.text and "Power BI &lt;report&gt;" in page.text
    row = db.session.execute(select(ApiToken)).scalar_one()
    assert token not in row.token_hash
    ask = console.get(f"/admin/users/{user.id}/tokens/{row.id}/revoke")
    assert 'data-action="confirm"' in ask.text
    assert console.post(f"/admin/users/{user.id}/tokens/{row.id}/revoke", {"confirm": "yes"}).status_code == 303
    db.session.expire_all()
    assert row.revoked
    # Deactivating oneself is refused next to the field.
    me = db.session.execute(select(User).where(User.email == ADMIN)).scalar_one()
    answer = console.post(f"/admin/users/{me.id}", {"role": "marketer"})
    assert answer.status_code == 422 and 'data-error="role"' in answer.text


def test_danish_and_english(console, site):
    assert "Bannertekster" in console.get(f"/admin/sites/{site.key}/?lang=da").text
    english = console.get(f"/admin/sites/{site.key}/?lang=en").text
    assert "Banner texts" in english and 'lang="en"' in english
    bad = console.post("/admin/sites/new?lang=en", {"name": "", "origins": ""})
    assert "Required." in bad.text and "At least one origin is required." in bad.text
    bad = console.post("/admin/sites/new?lang=da", {"name": "", "origins": ""})
    assert "Skal udfyldes." in bad.text and "Mindst én oprindelse skal angives." in bad.text
