"""City-level location: lookups, addresses that are never looked up, missing / corrupt / replaced databases."""
from __future__ import annotations

import dataclasses
import logging
import os

import pytest

from cookiegate.infra.geo import GeoDatabase, Location

from .mmdb_builder import (
    AARHUS_V4,
    COPENHAGEN_V4,
    GERMANY_V4,
    GOTHENBURG_V6,
    HILLEROD_V4,
    ODENSE_V6,
    STOCKHOLM_V4,
    UNLISTED_V4,
    UNLISTED_V6,
    city_record,
    write_city_db,
    write_corrupt_db,
)

EMPTY = Location()


@pytest.fixture
def city_db(tmp_path):
    return write_city_db(tmp_path / "GeoLite2-City.mmdb")


@pytest.fixture
def geo(city_db):
    database = GeoDatabase(str(city_db))
    database.open()
    assert database.available()
    return database


def geo_records(caplog):
    return [r for r in caplog.records if r.name == "cookiegate.infra.geo"]


@pytest.mark.parametrize(
    "address, expected",
    [
        (COPENHAGEN_V4, Location("DK", "DK-84", "Copenhagen")),
        (AARHUS_V4, Location("DK", "DK-82", "Aarhus")),
        (HILLEROD_V4, Location("DK", "DK-84", "Hillerød")),
        (STOCKHOLM_V4, Location("SE", "SE-AB", "Stockholm")),
        (ODENSE_V6, Location("DK", "DK-83", "Odense")),
        (GOTHENBURG_V6, Location("SE", "SE-O", "Gothenburg")),
        (GERMANY_V4, Location("DE", "", "")),
        # IPv4 clients as a dual-stack socket reports them, and addresses with a port from a proxy.
        ("::ffff:" + STOCKHOLM_V4, Location("SE", "SE-AB", "Stockholm")),
        (COPENHAGEN_V4 + ":51234", Location("DK", "DK-84", "Copenhagen")),
        (f"[{ODENSE_V6}]:443", Location("DK", "DK-83", "Odense")),
        (ODENSE_V6.upper(), Location("DK", "DK-83", "Odense")),
    ],
)
def test_lookup_gives_country_iso_subdivision_and_english_city(geo, address, expected):
    assert geo.locate(address) == expected


def test_location_holds_nothing_finer_than_the_city(geo):
    # The test database has coordinates, a postal code and a time zone for Copenhagen; none of it comes out.
    assert [f.name for f in dataclasses.fields(Location)] == ["country", "region", "city"]
    assert "1050" not in repr(geo.locate(COPENHAGEN_V4))


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3", "172.16.5.4", "192.168.1.10", "127.0.0.1", "169.254.10.20", "100.64.3.3", "0.0.0.0",
        "224.0.0.251", "240.0.0.9", "192.0.2.55", "::1", "fe80::1", "fe80::1%eth0", "fd12:3456::1", "ff02::1",
        "2001:db8::77", "::ffff:10.1.2.3", "[::1]:8080", "198.18.4.4", "198.51.100.23", "203.0.113.77",
        "2001::1", "100::5", "10.1.2.3:443",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_never_looked_up(geo, address):
    # They are in the test database (as "Nowhere"); a lookup would find them.
    assert geo.locate(address) == EMPTY


@pytest.mark.parametrize("address", [UNLISTED_V4, UNLISTED_V6, "", None, "unknown", "not-an-ip", "1.2.3", "::zz", "unix:/run/x.sock"])
def test_unknown_or_malformed_addresses_give_an_empty_location(geo, address):
    assert geo.locate(address) == EMPTY


def test_subdivision_codes_that_do_not_fit_a_region_are_left_out(tmp_path):
    path = write_city_db(
        tmp_path / "odd.mmdb",
        entries=[
            ("80.62.116.0/22", city_record("DK", "Denmark", "Copenhagen", "NOT-A-CODE")),
            ("78.72.0.0/16", city_record("SE", "Sweden", "  Stock\nholm  " + "x" * 300, "ab")),
        ],
    )
    geo = GeoDatabase(str(path))
    geo.open()
    assert geo.locate(COPENHAGEN_V4) == Location("DK", "", "Copenhagen")
    stockholm = geo.locate(STOCKHOLM_V4)
    assert stockholm.region == "SE-AB"
    assert stockholm.city.startswith("Stock holm xxx") and len(stockholm.city) == 120


def test_missing_database_logs_one_line_telling_how_to_add_one(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    path = tmp_path / "GeoLite2-City.mmdb"
    geo = GeoDatabase(str(path))
    geo.open()
    (line,) = geo_records(caplog)
    assert line.levelno == logging.WARNING
    message = line.getMessage()
    assert str(path) in message and "COOKIEGATE_GEOIP_DB" in message and "GeoLite2-City" in message
    assert "docs/geoip.md" in message
    assert not geo.available()
    assert geo.locate(COPENHAGEN_V4) == EMPTY


def test_unconfigured_database_logs_one_line_too(caplog):
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    geo = GeoDatabase("")
    geo.open()
    (line,) = geo_records(caplog)
    assert "COOKIEGATE_GEOIP_DB" in line.getMessage()
    assert geo.locate(COPENHAGEN_V4) == EMPTY


def test_corrupt_database_logs_one_line_with_the_reason(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    path = write_corrupt_db(tmp_path / "GeoLite2-City.mmdb")
    geo = GeoDatabase(str(path))
    geo.open()
    (line,) = geo_records(caplog)
    message = line.getMessage()
    assert line.levelno == logging.WARNING
    assert "cannot be used" in message and "InvalidDatabaseError" in message and str(path) in message
    assert "COOKIEGATE_GEOIP_DB" in message
    assert not geo.available()
    assert geo.locate(COPENHAGEN_V4) == EMPTY


def test_a_database_that_is_not_a_city_database_is_refused_with_the_reason(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    path = write_city_db(tmp_path / "GeoLite2-ASN.mmdb", database_type="GeoLite2-ASN")
    geo = GeoDatabase(str(path))
    geo.open()
    (line,) = geo_records(caplog)
    assert "not a City database" in line.getMessage() and "GeoLite2-ASN" in line.getMessage()
    assert not geo.available()


def test_a_database_opened_at_start_up_is_logged_once_without_request_data(city_db, caplog):
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    geo = GeoDatabase(str(city_db))
    geo.open()
    geo.locate(COPENHAGEN_V4)
    geo.locate("10.0.0.1")
    (line,) = geo_records(caplog)
    assert "GeoLite2-City" in line.getMessage()
    assert COPENHAGEN_V4 not in caplog.text


def test_replaced_database_is_picked_up_without_a_restart(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    path = tmp_path / "GeoLite2-City.mmdb"
    geo = GeoDatabase(str(path), recheck_seconds=0)
    geo.open()
    assert not geo.available()

    # Added after start-up.
    write_city_db(path)
    assert geo.available()
    assert geo.locate(COPENHAGEN_V4).city == "Copenhagen"

    # Replaced by a newer build (geoipupdate renames the new file into place).
    write_city_db(path, entries=[("80.62.116.0/22", city_record("DK", "Denmark", "Roskilde", "85"))])
    assert geo.locate(COPENHAGEN_V4) == Location("DK", "DK-85", "Roskilde")

    # A broken replacement: the previous database stays in use, and the operator is told why.
    write_corrupt_db(path)
    assert geo.locate(COPENHAGEN_V4).city == "Roskilde"
    assert "changed but cannot be used" in caplog.text and "keeping the previous one" in caplog.text

    # Overwritten in place (cp over the mapped file): lookups fail quietly until a good file is back.
    write_city_db(path)
    assert geo.locate(COPENHAGEN_V4).city == "Copenhagen"
    write_corrupt_db(path, in_place=True)
    assert geo.locate(COPENHAGEN_V4) == EMPTY
    write_city_db(path)
    assert geo.locate(COPENHAGEN_V4).city == "Copenhagen"

    # Removed: no location from then on.
    os.remove(path)
    assert geo.locate(COPENHAGEN_V4) == EMPTY
    assert not geo.available()
    assert COPENHAGEN_V4 not in caplog.text


def test_the_file_is_checked_at_most_once_per_recheck_interval(tmp_path):
    path = write_city_db(tmp_path / "GeoLite2-City.mmdb")
    geo = GeoDatabase(str(path), recheck_seconds=3600)
    geo.open()
    write_city_db(path, entries=[("80.62.116.0/22", city_record("DK", "Denmark", "Roskilde", "85"))])
    assert geo.locate(COPENHAGEN_V4).city == "Copenhagen"
    geo._next_check = 0  # the hour has passed
    assert geo.locate(COPENHAGEN_V4).city == "Roskilde"


# -- through the app ---------------------------------------------------------------


def test_healthz_reports_missing_when_no_database_and_ok_when_one_is_added(make_app, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    path = tmp_path / "GeoLite2-City.mmdb"
    app = make_app(COOKIEGATE_GEOIP_DB=str(path), COOKIEGATE_GEOIP_RECHECK=0)
    assert len(geo_records(caplog)) == 1  # exactly one start-up line
    client = app.test_client()
    assert client.get("/healthz").get_json()["geoip"] == "missing"
    write_city_db(path)
    assert client.get("/healthz").get_json()["geoip"] == "ok"


def test_healthz_reports_missing_for_a_corrupt_database(make_app, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    path = write_corrupt_db(tmp_path / "GeoLite2-City.mmdb")
    app = make_app(COOKIEGATE_GEOIP_DB=str(path))
    (line,) = geo_records(caplog)
    assert "InvalidDatabaseError" in line.getMessage()
    body = app.test_client().get("/healthz").get_json()
    assert body["geoip"] == "missing" and body["status"] == "ok"



def test_a_database_overwritten_in_place_is_dropped_at_once_even_between_checks(tmp_path, caplog):
    # Reading a memory map whose file was cut short kills the process (SIGBUS); it must never be touched.
    caplog.set_level(logging.INFO, logger="cookiegate.infra.geo")
    path = write_city_db(tmp_path / "GeoLite2-City.mmdb")
    geo = GeoDatabase(str(path), recheck_seconds=3600)
    geo.open()
    assert geo.locate(COPENHAGEN_V4).city == "Copenhagen"
    path.write_bytes(b"half a download")  # what `cp new.mmdb GeoLite2-City.mmdb` looks like mid-copy
    assert geo.locate(COPENHAGEN_V4) == EMPTY
    assert "overwritten while in use" in caplog.text
    assert not geo.available()
    # The copy completes: picked up at the next lookup, without waiting for the hour.
    write_city_db(tmp_path / "new.mmdb").replace(path)
    assert geo.locate(COPENHAGEN_V4).city == "Copenhagen"
    assert geo.available()
