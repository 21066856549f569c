"""Statistics: every grouping equals a recount from the raw records, on both databases;
current, private (floor), bot-free, purge-proof; the HTTP API with its auth and errors."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from collections import defaultdict
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from cookiegate.consents import ConsentRequest, record_batch
from cookiegate.extensions import db
from cookiegate.infra.visitor import Device, Location, Visitor
from cookiegate.models import ConsentRecord, Site
from cookiegate.sites.cache import process_state
from cookiegate.sites.site import bump_policy
from cookiegate.stats.figures import GROUPINGS, site_stats
from cookiegate.stats.rollup import catch_up, count_impression

from .support import consent_body, make_site, post_consent
from .web_support import login, make_token, make_user

UTC = dt.timezone.utc
HOSTILE_CITY = '<script>alert("x")</script>=cmd|calc'
FORMULA_CITY = "=HYPERLINK(\"https://evil.example\")"
PLACES = [("DK", "Copenhagen"), ("DK", "Aarhus"), ("SE", "Malmo"), ("DE", "Flensburg"), ("", ""),
          ("DK", HOSTILE_CITY), ("US", "Paris"), ("FR", "Paris")]
DEVICES = [("mobile", "Mobile Safari", "iOS", False), ("desktop", "Chrome", "Windows", False),
           ("desktop", "Firefox", "Linux", False), ("bot", "Googlebot", "Other", True), ("", "", "", False)]


def generate(site: Site, now: dt.datetime, count: int, seed: int = 7, days: int = 12) -> list[tuple]:
    """Consents spread over `days` days before `now`, recorded in time order with record_batch."""
    rng = random.Random(seed)
    state = process_state().sites.get(site.key)
    moments = sorted(now - dt.timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(count))
    # Some right at local midnights and quarter-hour edges.
    moments += [dt.datetime(2026, 11, 20, 23, 0, tzinfo=UTC) - dt.timedelta(microseconds=1),
                dt.datetime(2026, 11, 20, 23, 0, tzinfo=UTC), dt.datetime(2026, 11, 20, 18, 29, 59, tzinfo=UTC),
                dt.datetime(2026, 11, 20, 18, 30, tzinfo=UTC)]
    moments = sorted(m for m in moments if m <= now)
    batch = []
    for moment in moments:
        country, city = rng.choice(PLACES)
        device_type, browser, os_family, bot = rng.choice(DEVICES)
        method = rng.choice(["accept_all", "accept_all", "reject_all", "custom"])
        if method == "custom":
            choices = {"necessary": True, "statistics": rng.random() < 0.5, "marketing": rng.random() < 0.3}
        else:
            choices = {"necessary": True, "statistics": method == "accept_all", "marketing": method == "accept_all"}
        request = ConsentRequest(choices=choices, method=method, policy_version=state.policy_version,
                                 page_url="https://shop.example.dk/", language=rng.choice(["da", "da", "en"]), gpc=False)
        visitor = Visitor(Location(country, "", city), Device(device_type, browser, os_family, bot))
        batch.append((request, visitor, moment))
    record_batch(process_state(), state, batch)
    return batch


# --- an independent recount from the raw records ----------------------------------------------

def raw_records(site: Site) -> list:
    """The raw rows as plain objects (ORM instances would reload themselves after every commit)."""
    from types import SimpleNamespace

    columns = ("created_at", "method", "choices", "policy_version", "language", "country", "city", "device_type",
               "browser_family", "os_family", "is_bot")
    rows = db.session.execute(select(ConsentRecord).where(ConsentRecord.site_id == site.id)).scalars().all()
    return [SimpleNamespace(**{c: getattr(r, c) for c in columns}) for r in rows]


def recount(site: Site, first: dt.date, last: dt.date, group_by: str, records=None) -> dict:
    zone = ZoneInfo(site.timezone)
    categories = [c.slug for c in site.categories if not c.required]
    records = raw_records(site) if records is None else records

    def local_day(record):
        return record.created_at.astimezone(zone).date()

    def key(record):
        day = local_day(record)
        return {
            "day": day.isoformat(),
            "week": "%d-W%02d" % day.isocalendar()[:2],
            "month": "%d-%02d" % (day.year, day.month),
            "country": record.country or "unknown",
            "city": (record.city, record.country) if record.city else ("unknown", None),
            "device": record.device_type or "unknown",
            "browser": record.browser_family or "unknown",
            "os": record.os_family or "unknown",
            "method": record.method,
            "policy_version": str(record.policy_version),
            "language": record.language or "unknown",
        }[group_by]

    def empty():
        return {"consents": 0, "accept_all": 0, "reject_all": 0, "custom": 0, "withdraw": 0,
                "granted": dict.fromkeys(categories, 0)}

    def fold(group, record):
        group[record.method] += 1
        if record.method != "withdraw":
            group["consents"] += 1
            for c in categories:
                group["granted"][c] += bool(record.choices.get(c))

    def in_range(record, lo, hi):
        return not record.is_bot and lo <= local_day(record) <= hi

    totals, groups = empty(), defaultdict(empty)
    for record in records:
        if in_range(record, first, last):
            fold(totals, record)
            fold(groups[key(record)], record)
    length = (last - first).days + 1
    previous = empty()
    for record in records:
        if in_range(record, first - dt.timedelta(days=length), first - dt.timedelta(days=1)):
            fold(previous, record)
    if group_by not in ("day", "week", "month"):
        other, kept = empty(), {}
        for k, g in groups.items():
            if g["consents"] + g["withdraw"] < site.min_group_size:
                for name in ("consents", "accept_all", "reject_all", "custom", "withdraw"):
                    other[name] += g[name]
                for c in categories:
                    other["granted"][c] += g["granted"][c]
            else:
                kept[k] = g
        if other["consents"] + other["withdraw"]:
            kept[("other", None) if group_by == "city" else "other"] = other
        groups = kept
    return {"totals": totals, "previous": previous, "groups": dict(groups)}


def comparable_rows(answer: dict) -> dict:
    out = {}
    for row in answer["rows"]:
        k = (row["key"], row["country"]) if answer["group_by"] == "city" else row["key"]
        out[k] = {name: row[name] for name in ("consents", "accept_all", "reject_all", "custom", "withdraw", "granted")}
    return out


def figures_of(totals: dict) -> dict:
    return {name: totals[name] for name in ("consents", "accept_all", "reject_all", "custom", "withdraw", "granted")}


def assert_equal_to_recount(site, first, last, group_by, records=None):
    catch_up(site.id)
    answer = site_stats(site, first, last, group_by)
    expected = recount(site, first, last, group_by, records)
    assert figures_of(answer["totals"]) == expected["totals"], group_by
    assert figures_of(answer["previous"]["totals"]) == expected["previous"], group_by
    rows = comparable_rows(answer)
    if group_by in ("day", "week", "month"):
        rows = {k: v for k, v in rows.items() if v["consents"] or v["withdraw"]}  # empty periods are listed too
    assert rows == expected["groups"], group_by
    for row in answer["rows"]:  # rates follow from the counts
        for slug, granted in row["granted"].items():
            assert row["rates"][slug] == (round(granted / row["consents"], 4) if row["consents"] else None)
    return answer


# --- the tests ------------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 24, 12, 7, tzinfo=UTC)


@pytest.mark.parametrize("timezone", ["Europe/Copenhagen", "Asia/Kolkata", "America/St_Johns"])
def test_every_grouping_equals_a_recount_from_the_raw_records(app, site, timezone):
    site.timezone = timezone
    site.min_group_size = 5
    db.session.commit()
    generate(site, NOW - dt.timedelta(days=6), 300, seed=1)
    # A policy bump half-way: two versions in the figures.
    bump_policy(site)
    db.session.commit()
    process_state().sites.invalidate(site.key)
    generate(site, NOW, 300, seed=2, days=6)
    records = raw_records(site)
    for first, last in ((dt.date(2026, 11, 14), dt.date(2026, 11, 24)), (dt.date(2026, 11, 21), dt.date(2026, 11, 21)),
                        (dt.date(2026, 11, 1), dt.date(2026, 11, 30))):
        for group_by in GROUPINGS:
            assert_equal_to_recount(site, first, last, group_by, records)


def test_figures_include_a_consent_recorded_a_moment_ago_over_http(client, site):
    today = dt.datetime.now(UTC).astimezone(ZoneInfo(site.timezone)).date().isoformat()
    make_user("mia@example.dk", sites=[site])
    token = make_token(db.session.execute(select(__import__("cookiegate.models", fromlist=["User"]).User)).scalar_one())
    headers = {"Authorization": f"Bearer {token}"}
    before = client.get(f"/api/v1/sites/{site.key}/stats?from={today}&to={today}", headers=headers).get_json()
    assert before["totals"]["consents"] == 0
    assert post_consent(client, site.key, consent_body(method="accept_all", choices={})).status_code == 201
    after = client.get(f"/api/v1/sites/{site.key}/stats?from={today}&to={today}", headers=headers).get_json()
    assert after["totals"]["consents"] == 1 and after["totals"]["accept_all"] == 1
    assert after["totals"]["granted"] == {"statistics": 1, "marketing": 1}
    assert after["rows"][-1]["key"] == today and after["rows"][-1]["consents"] == 1


def test_withdrawals_count_apart_and_bots_are_left_out(client, site):
    today = dt.datetime.now(UTC).astimezone(ZoneInfo(site.timezone)).date()
    first = post_consent(client, site.key, consent_body(method="accept_all", choices={})).get_json()
    client.post(f"/api/v1/sites/{site.key}/consents/{first['consent_id']}/withdraw",
                data=json.dumps({"token": first["token"]}), headers={"Content-Type": "text/plain"})
    bot = {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
    assert post_consent(client, site.key, consent_body(), headers=bot).status_code == 201
    client.post(f"/api/v1/sites/{site.key}/impressions", data="{}", headers={"Origin": "https://shop.example.dk", **bot})
    client.post(f"/api/v1/sites/{site.key}/impressions", data="{}", headers={"Origin": "https://shop.example.dk"})
    client.post(f"/api/v1/sites/{site.key}/impressions", data="{}", headers={"Origin": "https://shop.example.dk"})
    answer = assert_equal_to_recount(site, today, today, "method")
    totals = answer["totals"]
    assert (totals["consents"], totals["withdraw"], totals["impressions"]) == (1, 1, 2)
    assert totals["rates"]["interaction"] == 0.5
    assert db.session.execute(select(ConsentRecord).where(ConsentRecord.is_bot.is_(True))).scalar_one()  # kept in the log


def test_small_groups_fold_into_other_and_totals_stay_exact(app, site):
    site.min_group_size = 5
    db.session.commit()
    state = process_state().sites.get(site.key)
    moment = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    batch = []
    for city, n in (("Copenhagen", 7), ("Aarhus", 5), ("Odense", 4), (HOSTILE_CITY, 1)):
        for _ in range(n):
            batch.append((ConsentRequest({"necessary": True, "statistics": True, "marketing": False}, "custom", state.policy_version,
                                         "", "da", False), Visitor(Location("DK", "", city), Device("mobile", "Chrome", "Android", False)),
                          moment + dt.timedelta(seconds=len(batch))))
    record_batch(process_state(), state, batch)
    catch_up(site.id)
    answer = site_stats(site, dt.date(2026, 11, 20), dt.date(2026, 11, 20), "city")
    assert [(r["key"], r["consents"]) for r in answer["rows"]] == [("Copenhagen", 7), ("Aarhus", 5), ("other", 5)]
    assert answer["totals"]["consents"] == 17
    assert HOSTILE_CITY not in json.dumps(answer)
    site.min_group_size = 1
    db.session.commit()
    answer = site_stats(site, dt.date(2026, 11, 20), dt.date(2026, 11, 20), "city")
    assert {r["key"] for r in answer["rows"]} == {"Copenhagen", "Aarhus", "Odense", HOSTILE_CITY}


def test_figures_survive_deletion_of_the_raw_records(app, site):
    generate(site, NOW, 200, seed=3)
    catch_up(site.id)
    before = {g: site_stats(site, dt.date(2026, 11, 10), dt.date(2026, 11, 24), g) for g in GROUPINGS}
    # What purge and erase do to raw records (they call catch_up first, as this test did above).
    db.session.execute(delete(ConsentRecord).where(ConsentRecord.site_id == site.id))
    db.session.commit()
    after = {g: site_stats(site, dt.date(2026, 11, 10), dt.date(2026, 11, 24), g) for g in GROUPINGS}
    assert after == before
    assert before["day"]["totals"]["consents"] > 150


def test_catch_up_is_exact_when_two_run_at_once(make_app, app, site):
    recorded = len(generate(site, NOW, 120, seed=4))
    other = make_app()
    with other.app_context():
        assert catch_up(site.id, batch=50) == recorded
    assert catch_up(site.id, batch=50) == 0  # already summed: nothing counted twice
    assert_equal_to_recount(site, dt.date(2026, 11, 10), dt.date(2026, 11, 24), "country")


def test_impressions_count_in_local_days(app, site):
    site.timezone = "Europe/Copenhagen"
    db.session.commit()
    visitor = Visitor(Location("DK", "", "Aarhus"), Device("desktop", "Chrome", "Windows", False))
    count_impression(site.id, visitor, at=dt.datetime(2026, 11, 20, 22, 59, tzinfo=UTC))  # 23:59 local, the 20th
    count_impression(site.id, visitor, at=dt.datetime(2026, 11, 20, 23, 0, tzinfo=UTC))  # 00:00 local, the 21st
    count_impression(site.id, Visitor(Location("SE", "", ""), Device("bot", "Googlebot", "Other", True)),
                     at=dt.datetime(2026, 11, 21, 9, 0, tzinfo=UTC))
    answer = site_stats(site, dt.date(2026, 11, 20), dt.date(2026, 11, 21), "day")
    assert [(r["key"], r["impressions"]) for r in answer["rows"]] == [("2026-11-20", 1), ("2026-11-21", 1)]
    by_country = site_stats(site, dt.date(2026, 11, 20), dt.date(2026, 11, 21), "country")
    assert by_country["totals"]["impressions"] == 2


# --- over HTTP: auth, errors, CSV --------------------------------------------------------------

def test_stats_need_a_login_or_a_token_with_access(client, site):
    other = make_site(["https://other.example.dk"])
    url = f"/api/v1/sites/{site.key}/stats"
    response = client.get(url)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert client.get(url, headers={"Authorization": "Bearer cg_not-a-token"}).status_code == 401
    user = make_user("mia@example.dk", sites=[site])
    token = make_token(user)
    ok = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.get_json()["site"] == site.key
    forbidden = client.get(f"/api/v1/sites/{other.key}/stats", headers={"Authorization": f"Bearer {token}"})
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"/api/v1/sites/{other.key}/stats.csv", headers={"Authorization": f"Bearer {token}"}).status_code == 403
    # A logged-in marketer's session works as well (the dashboard's own calls).
    login(client, "mia@example.dk")
    assert client.get(url).status_code == 200
    assert client.get(f"/api/v1/sites/{other.key}/stats").status_code == 403


def test_a_revoked_token_stops_working(client, runner, site):
    user = make_user("mia@example.dk", sites=[site])
    token = make_token(user)
    url = f"/api/v1/sites/{site.key}/stats"
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert runner.invoke(args=["cookiegate", "revoke-token", token]).exit_code == 0
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


@pytest.mark.parametrize("query, parameter", [
    ("from=2026-13-01", "from"), ("from=yesterday", "from"), ("to=2026-02-30", "to"),
    ("group_by=colour", "group_by"), ("from=1900-01-01&to=1900-01-02", "from"), ("from=2000-01-01&to=3000-01-01", "to"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, site, query, parameter):
    make_user("root@example.dk", role="admin")
    login(client, "root@example.dk")
    for suffix in ("stats", "stats.csv"):
        response = client.get(f"/api/v1/sites/{site.key}/{suffix}?{query}")
        assert response.status_code == 400
        error = response.get_json()["error"]
        assert error["code"] == "invalid_parameter" and error["parameter"] == parameter
        assert f"'{parameter}'" in error["message"] or parameter == "to"


def test_from_and_to_may_come_in_either_order_and_a_long_range_is_cut_to_ten_years(client, site):
    # The description allows any two days of 2000-2999 (schemathesis sends such pairs): the answer
    # says which days it covers instead of refusing them.
    make_user("root@example.dk", role="admin")
    login(client, "root@example.dk")
    url = f"/api/v1/sites/{site.key}/stats?group_by=month"
    reversed_range = client.get(url + "&from=2026-11-20&to=2026-11-01").get_json()
    assert (reversed_range["from"], reversed_range["to"]) == ("2026-11-01", "2026-11-20")
    assert reversed_range == client.get(url + "&from=2026-11-01&to=2026-11-20").get_json()
    long_range = client.get(url + "&from=2000-01-01&to=2999-12-31").get_json()
    assert (long_range["from"], long_range["to"]) == ("2989-12-24", "2999-12-31")
    for empty in ("from=&to=", "to=", "group_by="):  # empty is the same as left out
        assert client.get(f"/api/v1/sites/{site.key}/stats?{empty}").status_code == 200


def test_unknown_site_is_404(client):
    assert client.get("/api/v1/sites/nosuchsite/stats").get_json()["error"]["code"] == "unknown_site"


def test_csv_has_the_same_rows_and_defuses_formulas(client, site):
    state = process_state().sites.get(site.key)
    moment = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    record_batch(process_state(), state, [
        (ConsentRequest({"necessary": True, "statistics": True, "marketing": True}, "accept_all", state.policy_version, "", "da", False),
         Visitor(Location("DK", "", FORMULA_CITY), Device("mobile", "Chrome", "Android", False)), moment + dt.timedelta(seconds=i))
        for i in range(6)
    ])
    user = make_user("mia@example.dk", sites=[site])
    headers = {"Authorization": f"Bearer {make_token(user)}"}
    query = "from=2026-11-20&to=2026-11-20&group_by=city"
    answer = client.get(f"/api/v1/sites/{site.key}/stats?{query}", headers=headers).get_json()
    response = client.get(f"/api/v1/sites/{site.key}/stats.csv?{query}", headers=headers)
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == len(answer["rows"]) == 1
    assert rows[0]["key"] == "'" + FORMULA_CITY  # no formula for a spreadsheet to run
    assert rows[0]["consents"] == "6" and rows[0]["granted_statistics"] == "6" and rows[0]["rate_marketing"] == "1.0"
