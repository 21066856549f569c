"""Small holes closed (issue 23, item 7), each tested as the one who would use it: a `next=`
with line breaks, production keys without variety, a banner preview URL used by someone else or
after logout, API answers a browser could sniff, a console download kept in a cache, and CSV
cells a spreadsheet would run."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets
from html import unescape

import pytest

from cookiegate import create_app
from cookiegate.config import ConfigError
from cookiegate.consents import ConsentRequest, record_batch
from cookiegate.infra.visitor import Device, Location, Visitor
from cookiegate.sites.cache import process_state

from .admin_support import Console
from .support import post_consent
from .web_support import PASSWORD, csrf_token, make_token, make_user

ADMIN = "root@example.dk"


@pytest.mark.parametrize("target", ["/admin/\r\nSet-Cookie: x=1", "/dashboard/%0d%0a", "/\t/evil.example", "/\n/evil.example", "/admin/\x7f"])
def test_a_next_with_control_characters_falls_back_to_the_dashboard(client, site, target):
    make_user("mia@example.dk", sites=[site])
    page = client.get("/login")
    answer = client.post("/login", query_string={"next": target},
                         data={"email": "mia@example.dk", "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    expected = "/dashboard/%0d%0a" if target == "/dashboard/%0d%0a" else "/dashboard/"  # encoded: a plain path
    assert answer.status_code == 303 and answer.headers["Location"] == expected
    again = client.get("/login", query_string={"next": target})  # logged in already: the same fallback
    assert again.status_code == 303 and again.headers["Location"] == expected


def test_production_refuses_secret_keys_with_too_little_variety(tmp_path, monkeypatch):
    monkeypatch.delenv("COOKIEGATE_SECRET_KEYS", raising=False)

    def start(*keys):
        return create_app({"INSTANCE_PATH": str(tmp_path), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
                           "COOKIEGATE_ENV": "production", "COOKIEGATE_SECRET_KEYS": list(keys)})

    good = secrets.token_urlsafe(48)
    for weak in ("a" * 40, "abcdefghij" * 4, "0123456789" * 4, "first-key-" + "a" * 30, secrets.token_urlsafe(8) * 4):
        with pytest.raises(ConfigError, match=r"entries \[1\] have too little variety"):
            start(good, weak)
    for strong in (secrets.token_hex(16), secrets.token_urlsafe(32), secrets.token_hex(64)):
        assert start(good, strong).config["SECRET_KEY"] == strong


def test_a_banner_preview_url_works_only_in_the_admins_session_and_ends_with_it(app, site):
    make_user(ADMIN, "admin")
    admin = Console(app.test_client(), ADMIN).login()
    frame = unescape(re.search(r'<iframe class="preview" src="([^"]+)"', admin.get(f"/admin/sites/{site.key}/").text).group(1))
    token = frame.split("/")[3]
    config = f"/admin/preview/{token}/api/v1/sites/{site.key}/config?lang=da"
    script = f"/admin/preview/{token}/banner/v1/cookiegate.js"
    stranger = app.test_client()
    assert admin.get(frame).status_code == 200
    assert stranger.get(frame).status_code == 404  # the page needs the admin's own session
    # The sandboxed frame's own requests carry no cookies (opaque origin): alive session, alive URL.
    assert stranger.get(config).status_code == 200 and stranger.get(script).status_code == 200
    other_admin = make_user("other@example.dk", "admin")
    assert other_admin and Console(app.test_client(), "other@example.dk").login().get(frame).status_code == 404
    assert admin.post("/logout").status_code == 303
    for path in (frame, config, script):
        assert stranger.get(path).status_code == 404
    assert admin.get(frame).status_code == 404


def test_every_answer_says_nosniff_once(client, site):
    user = make_user("mia@example.dk", sites=[site])
    bearer = {"Authorization": f"Bearer {make_token(user)}"}
    answers = [
        client.get(f"/api/v1/sites/{site.key}/decision"),
        client.get(f"/api/v1/sites/{site.key}/config?lang=da"),
        post_consent(client, site.key),
        post_consent(client, site.key, raw=b"not json"),
        client.get(f"/api/v1/sites/{site.key}/stats", headers=bearer),
        client.get(f"/api/v1/sites/{site.key}/stats"),
        client.get(f"/api/v1/sites/{site.key}/stats.csv", headers=bearer),
        client.get("/api/v1/sites/no-such-site/decision"),
        client.get("/api/v1/nothing-here"),
        client.get("/api/v1/openapi.json"),
        client.get("/healthz"),
        client.get("/banner/v1/cookiegate.js"),
        client.get("/login"),
        client.get("/dashboard/no/such/page"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 201, 400, 200, 401, 200, 404, 404, 200, 200, 200, 200, 404]
    # Exactly once: "nosniff, nosniff" is no longer the value browsers act on.
    assert all(a.headers.getlist("X-Content-Type-Options") == ["nosniff"] for a in answers)


def test_console_downloads_are_never_kept_in_a_cache_and_its_static_files_are(app, site):
    make_user(ADMIN, "admin")
    admin = Console(app.test_client(), ADMIN).login()
    download = admin.get(f"/admin/sites/{site.key}/audit.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Cache-Control"] == "no-store"
    consent_id = post_consent(app.test_client(), site.key).get_json()["consent_id"]
    export = admin.post(f"/admin/sites/{site.key}/consents/export", {"consent_id": consent_id})
    assert export.status_code == 200 and export.mimetype == "application/json"
    assert export.headers["Cache-Control"] == "no-store"
    stylesheet = admin.get("/admin/static/admin.css")
    stylesheet.close()  # a file answer: streamed, closed by hand here
    assert stylesheet.status_code == 200 and "no-store" not in stylesheet.headers.get("Cache-Control", "")


SPREADSHEET_TRAPS = [";=cmd|' /C calc'!A0", "|calc", "Kø\x1bbenhavn\r\n=1+1", "\t=SUM(A1)", "Aarhus;=HYPERLINK(\"x\")"]


def test_stats_csv_cells_from_geoip_names_cannot_run_in_a_spreadsheet(client, site):
    state = process_state().sites.get(site.key)
    moment = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.timezone.utc)
    record_batch(process_state(), state, [
        (ConsentRequest({"necessary": True, "statistics": True, "marketing": False}, "accept_all", state.policy_version, "", "da", False),
         Visitor(Location("DK", "", city), Device("mobile", "Chrome", "Android", False)), moment + dt.timedelta(seconds=i))
        for i, city in enumerate(name for name in SPREADSHEET_TRAPS for _ in range(5))
    ])
    user = make_user("mia@example.dk", sites=[site])
    response = client.get(f"/api/v1/sites/{site.key}/stats.csv?from=2026-11-20&to=2026-11-20&group_by=city",
                          headers={"Authorization": f"Bearer {make_token(user)}"})
    text = response.get_data(as_text=True)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text) and "\r\n=" not in text
    keys = sorted(row["key"] for row in csv.DictReader(io.StringIO(text)))
    assert keys == sorted(["';=cmd|' /C calc'!A0", "'|calc", "Kø\ufffdbenhavn\ufffd\ufffd=1+1", "\ufffd=SUM(A1)", 'Aarhus;=HYPERLINK("x")'])
    # Read as a spreadsheet set to semicolons (Danish Excel) would: no cell starts a formula.
    for row in csv.reader(io.StringIO(text), delimiter=";"):
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell
