"""Location and device fields through the real API: which address counts, and what the records and counts get."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord

from .mmdb_builder import COPENHAGEN_V4, GOTHENBURG_V6, ODENSE_V6, STOCKHOLM_V4, write_city_db
from .support import consent_body, impressions

SHOP = "https://shop.example.dk"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOWS_EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def city_db(tmp_path):
    return write_city_db(tmp_path / "GeoLite2-City.mmdb")


@pytest.fixture
def geo_app(app, make_app, city_db):
    """Behind one proxy, with a City database (the `app` fixture keeps the context and empties the database)."""
    return make_app(COOKIEGATE_GEOIP_DB=str(city_db), COOKIEGATE_TRUSTED_PROXIES=1)


def consent(app, site, *, peer="127.0.0.1", forwarded=None, agent=IPHONE, headers=None):
    all_headers = {"Origin": SHOP, "Content-Type": "text/plain", "User-Agent": agent}
    if forwarded is not None:
        all_headers["X-Forwarded-For"] = forwarded
    all_headers.update(headers or {})
    response = app.test_client().post(
        f"/api/v1/sites/{site.key}/consents",
        data=json.dumps(consent_body()),
        headers=all_headers,
        environ_base={"REMOTE_ADDR": peer},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def record(consent_id: str) -> ConsentRecord:
    db.session.expire_all()
    return db.session.execute(select(ConsentRecord).where(ConsentRecord.consent_id == consent_id)).scalars().one()


def place(row) -> tuple[str, str, str]:
    return (row.country, row.region, row.city)


# -- which address ------------------------------------------------------------------


def test_without_trusted_proxies_the_socket_peer_counts_and_forwarded_for_is_ignored(make_app, site, city_db):
    app = make_app(COOKIEGATE_GEOIP_DB=str(city_db), COOKIEGATE_TRUSTED_PROXIES=0)
    answer = consent(app, site, peer=STOCKHOLM_V4, forwarded=COPENHAGEN_V4)
    assert place(record(answer["consent_id"])) == ("SE", "SE-AB", "Stockholm")


def test_without_trusted_proxies_a_forwarded_for_from_a_local_peer_gives_no_location(make_app, site, city_db):
    app = make_app(COOKIEGATE_GEOIP_DB=str(city_db), COOKIEGATE_TRUSTED_PROXIES=0)
    answer = consent(app, site, peer="127.0.0.1", forwarded=COPENHAGEN_V4)
    assert place(record(answer["consent_id"])) == ("", "", "")


def test_one_trusted_proxy_takes_the_right_most_forwarded_address(geo_app, site):
    answer = consent(geo_app, site, peer="10.0.0.2", forwarded=f"{STOCKHOLM_V4}, {COPENHAGEN_V4}")
    assert place(record(answer["consent_id"])) == ("DK", "DK-84", "Copenhagen")


def test_a_forged_left_part_of_forwarded_for_is_never_trusted(geo_app, site):
    # The client wrote a Swedish address; the proxy appended what it saw (Danish, IPv6).
    answer = consent(geo_app, site, forwarded=f"{STOCKHOLM_V4}, {GOTHENBURG_V6},{ODENSE_V6}")
    assert place(record(answer["consent_id"])) == ("DK", "DK-83", "Odense")


def test_a_private_right_most_forwarded_address_gives_no_location_even_with_a_public_one_left_of_it(geo_app, site):
    answer = consent(geo_app, site, forwarded=f"{COPENHAGEN_V4}, 192.168.1.20")
    assert place(record(answer["consent_id"])) == ("", "", "")


def test_two_trusted_proxies_take_the_second_address_from_the_right(make_app, site, city_db):
    app = make_app(COOKIEGATE_GEOIP_DB=str(city_db), COOKIEGATE_TRUSTED_PROXIES=2)
    answer = consent(app, site, forwarded=f"{COPENHAGEN_V4}, {STOCKHOLM_V4}, 10.0.0.9")
    assert place(record(answer["consent_id"])) == ("SE", "SE-AB", "Stockholm")
    # Fewer hops than configured: the header proves nothing, the socket peer counts.
    answer = consent(app, site, peer=GOTHENBURG_V6, forwarded=COPENHAGEN_V4)
    assert place(record(answer["consent_id"])) == ("SE", "SE-O", "Gothenburg")


def test_ipv6_socket_peer_is_located(make_app, site, city_db):
    app = make_app(COOKIEGATE_GEOIP_DB=str(city_db))
    answer = consent(app, site, peer=ODENSE_V6)
    assert place(record(answer["consent_id"])) == ("DK", "DK-83", "Odense")


# -- what the records and counts get -------------------------------------------------


def test_consent_record_gets_location_and_device_families(geo_app, site):
    answer = consent(geo_app, site, forwarded=COPENHAGEN_V4, agent=IPHONE)
    row = record(answer["consent_id"])
    assert place(row) == ("DK", "DK-84", "Copenhagen")
    assert (row.device_type, row.browser_family, row.os_family, row.is_bot) == ("mobile", "Mobile Safari", "iOS", False)


def test_bots_are_recorded_as_bots(geo_app, site):
    answer = consent(geo_app, site, forwarded=STOCKHOLM_V4, agent=GOOGLEBOT)
    row = record(answer["consent_id"])
    assert (row.device_type, row.browser_family, row.is_bot) == ("bot", "Googlebot", True)
    assert row.country == "SE"


def test_client_hints_reach_the_record(geo_app, site):
    reduced_android = (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
    )
    answer = consent(geo_app, site, agent=reduced_android, headers={"Sec-CH-UA-Mobile": "?1", "Sec-CH-UA-Platform": '"Android"'})
    row = record(answer["consent_id"])
    assert (row.device_type, row.os_family) == ("mobile", "Android")


def test_withdrawal_gets_the_withdrawing_visitors_location_and_device(geo_app, site):
    answer = consent(geo_app, site, forwarded=COPENHAGEN_V4, agent=IPHONE)
    response = geo_app.test_client().post(
        f"/api/v1/sites/{site.key}/consents/{answer['consent_id']}/withdraw",
        data=json.dumps({"token": answer["token"]}),
        headers={"Origin": SHOP, "Content-Type": "text/plain", "User-Agent": WINDOWS_EDGE, "X-Forwarded-For": ODENSE_V6},
    )
    assert response.status_code == 201, response.get_json()
    db.session.expire_all()
    rows = db.session.execute(
        select(ConsentRecord).where(ConsentRecord.consent_id == answer["consent_id"]).order_by(ConsentRecord.seq)
    ).scalars().all()
    assert [r.method for r in rows] == ["custom", "withdraw"]
    withdrawal = rows[1]
    assert place(withdrawal) == ("DK", "DK-83", "Odense")
    assert (withdrawal.device_type, withdrawal.browser_family, withdrawal.os_family) == ("desktop", "Edge", "Windows")


def test_proof_of_consent_shows_the_coarse_location_and_device(geo_app, site):
    answer = consent(geo_app, site, forwarded=COPENHAGEN_V4, agent=IPHONE)
    proof = geo_app.test_client().get(
        f"/api/v1/sites/{site.key}/consents/{answer['consent_id']}", headers={"X-Cookiegate-Token": answer["token"]}
    ).get_json()
    (shown,) = proof["events"]
    assert shown["context"]["location"] == {"country": "DK", "region": "DK-84", "city": "Copenhagen"}
    assert shown["context"]["device"] == {"type": "mobile", "browser": "Mobile Safari", "os": "iOS", "bot": False}


def test_impressions_are_counted_per_country_and_device_type(geo_app, site):
    client = geo_app.test_client()
    visits = [(COPENHAGEN_V4, IPHONE), (ODENSE_V6, IPHONE), (STOCKHOLM_V4, WINDOWS_EDGE), (COPENHAGEN_V4, GOOGLEBOT)]
    for address, agent in visits:
        response = client.post(
            f"/api/v1/sites/{site.key}/impressions",
            headers={"Origin": SHOP, "User-Agent": agent, "X-Forwarded-For": address},
        )
        assert response.status_code == 204
    db.session.expire_all()
    # The crawler is no audience: it is left out.
    assert impressions(site.id, "country") == {"DK": 2, "SE": 1}
    assert impressions(site.id, "device") == {"mobile": 2, "desktop": 1}


def test_without_a_database_records_are_kept_with_device_but_no_location(client, site):
    response = client.post(
        f"/api/v1/sites/{site.key}/consents",
        data=json.dumps(consent_body()),
        headers={"Origin": SHOP, "Content-Type": "text/plain", "User-Agent": IPHONE, "X-Forwarded-For": COPENHAGEN_V4},
        environ_base={"REMOTE_ADDR": COPENHAGEN_V4},
    )
    assert response.status_code == 201
    row = record(response.get_json()["consent_id"])
    assert place(row) == ("", "", "")
    assert row.device_type == "mobile"
