"""The dashboard over HTTP: figures equal the API's, access, escaping, language, range picker, CSV link."""
from __future__ import annotations

import datetime as dt
import html
import re

from cookiegate.consents import ConsentRequest, record_batch
from cookiegate.extensions import db
from cookiegate.infra.visitor import Device, Location, Visitor
from cookiegate.models import utcnow
from cookiegate.sites.cache import process_state

from .support import make_site
from .web_support import assert_strict_html_headers, login, make_user

METRIC = re.compile(r'data-metric="([^"]+)" data-value="([^"]*)"')


def seed(site, cities=(("Copenhagen", 9), ("Aarhus", 6), ("Vejle", 2)), city_override=None):
    state = process_state().sites.get(site.key)
    now = utcnow() - dt.timedelta(hours=1)
    batch = []
    for city, n in cities:
        for i in range(n):
            method = ("accept_all", "reject_all", "custom")[i % 3]
            choices = {"necessary": True, "statistics": method != "reject_all", "marketing": method == "accept_all"}
            batch.append((ConsentRequest(choices, method, state.policy_version, "", "da", False),
                          Visitor(Location("DK", "", city), Device("mobile", "Chrome Mobile", "Android", False)),
                          now - dt.timedelta(days=i % 5, minutes=len(batch))))
    batch.sort(key=lambda item: item[2])
    record_batch(process_state(), state, batch)


def test_dashboard_figures_equal_the_api(client, site):
    seed(site)
    make_user("mia@example.dk", sites=[site])
    login(client, "mia@example.dk")
    page = client.get(f"/dashboard/{site.key}/")
    assert page.status_code == 200
    assert_strict_html_headers(page)
    text = page.get_data(as_text=True)
    figures = dict(METRIC.findall(text))
    api = client.get(f"/api/v1/sites/{site.key}/stats").get_json()["totals"]
    for name in ("impressions", "consents", "accept_all", "reject_all", "custom", "withdraw"):
        assert figures[name] == str(api[name])
    assert figures["interaction"] == "null"  # no impressions: no rate
    for slug, rate in api["rates"].items():
        if slug != "interaction":
            assert float(figures[f"rate_{slug}"]) == rate
    assert api["consents"] == 17
    assert "data-chart" in text and "<svg" in text
    for table in ("country", "city", "device", "browser", "method", "policy_version"):
        assert f'data-table="{table}"' in text
    assert "<style" not in text and " style=" not in text and "<script" not in text


def test_small_cities_fold_into_other_on_the_dashboard_and_hostile_names_are_escaped(client, site):
    hostile = '<img src=x onerror=alert(1)>"Hvidovre'
    seed(site, cities=(("Copenhagen", 9), (hostile, 6), ("Vejle", 2)))
    site.name = "<script>alert('site')</script>"
    db.session.commit()
    make_user("mia@example.dk", sites=[site])
    login(client, "mia@example.dk")
    text = client.get(f"/dashboard/{site.key}/").get_data(as_text=True)
    assert "<img src=x" not in text and "<script>alert" not in text
    assert html.escape(hostile, quote=True).split('"')[0] in text or "&lt;img src=x" in text
    city_table = text.split('data-table="city"')[1].split("</table>")[0]
    assert "Vejle" not in city_table and 'data-key="other"' in city_table


def test_danish_number_format_and_english(client, site):
    seed(site, cities=(("Copenhagen", 1200),))
    make_user("mia@example.dk", sites=[site])
    login(client, "mia@example.dk")
    danish = client.get(f"/dashboard/{site.key}/?lang=da").get_data(as_text=True)
    assert "1.200" in danish and "Samtykker" in danish
    assert re.search(r"\d+,\d\u00a0%", danish)
    english = client.get(f"/dashboard/{site.key}/?lang=en").get_data(as_text=True)
    assert "1,200" in english and "Consents" in english
    assert re.search(r"\d+\.\d%", english)


def test_range_presets_and_csv_link_follow_the_choice(client, site):
    seed(site)
    make_user("mia@example.dk", sites=[site])
    login(client, "mia@example.dk")
    text = client.get(f"/dashboard/{site.key}/?from=2026-01-01&to=2026-01-31&group_by=city").get_data(as_text=True)
    csv_link = re.search(r'<a href="([^"]+)" data-export="csv"', text).group(1)
    assert html.unescape(csv_link) == f"/api/v1/sites/{site.key}/stats.csv?from=2026-01-01&to=2026-01-31&group_by=city"
    for preset in ("7", "30", "90", "month"):
        assert f'data-preset="{preset}"' in text
    response = client.get(html.unescape(csv_link))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    bad = client.get(f"/dashboard/{site.key}/?from=2026-02-30")
    assert bad.status_code == 200 and 'role="alert"' in bad.get_data(as_text=True)


def test_marketer_cannot_see_another_sites_dashboard_or_api(client, site):
    other = make_site(["https://other.example.dk"])
    make_user("mia@example.dk", sites=[site])
    login(client, "mia@example.dk")
    assert client.get(f"/dashboard/{other.key}/").status_code == 403
    assert client.get(f"/api/v1/sites/{other.key}/stats").status_code == 403
    assert client.get(f"/api/v1/sites/{other.key}/stats.csv").status_code == 403
    assert client.get("/admin/").status_code in (403, 404)
