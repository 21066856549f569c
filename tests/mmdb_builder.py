"""Small City databases in the MaxMind format, written by the tests themselves.

No test downloads or ships a real GeoLite2 / DB-IP database (their licences
forbid redistribution, and *.mmdb is git-ignored). The records below have the
shape of GeoLite2-City records, coordinates and postal codes included, so the
tests can show that those fields are never kept.
"""
from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def city_record(country: str, country_name: str, city: str = "", subdivision: str = "", **extra) -> dict:
    record: dict = {
        "continent": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe"}},
        "country": {"geoname_id": 1, "iso_code": country, "is_in_european_union": True, "names": {"en": country_name}},
        "registered_country": {"geoname_id": 1, "iso_code": country, "names": {"en": country_name}},
        "location": {"accuracy_radius": 20, "latitude": 55.6759, "longitude": 12.5655, "time_zone": "Europe/Copenhagen"},
        "postal": {"code": "1050"},
    }
    if subdivision:
        record["subdivisions"] = [{"geoname_id": 2, "iso_code": subdivision, "names": {"en": "Region " + subdivision}}]
    if city:
        record["city"] = {"geoname_id": 3, "names": {"en": city, "de": city + " (de)", "ja": "都市"}}
    record.update(extra)
    return record


# (network, record). Public, routable prefixes: private and documentation ranges are never looked up.
ENTRIES: list[tuple[str, dict]] = [
    ("80.62.116.0/22", city_record("DK", "Denmark", "Copenhagen", "84")),
    ("87.49.40.0/21", city_record("DK", "Denmark", "Aarhus", "82")),
    ("2.104.0.0/16", city_record("DK", "Denmark", "Hillerød", "84")),
    ("78.72.0.0/16", city_record("SE", "Sweden", "Stockholm", "AB")),
    ("2a02:aa1::/32", city_record("DK", "Denmark", "Odense", "83")),
    ("2001:2002::/32", city_record("SE", "Sweden", "Gothenburg", "O")),
    # Known country, nothing finer (as for many mobile-network addresses).
    ("185.12.0.0/16", city_record("DE", "Germany")),
]
# Addresses no public database places. They are in this one anyway, so the tests show
# that cookiegate never looks them up (a lookup would say "Nowhere").
NOT_ROUTABLE = [
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10",
    "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "::1/128", "fe80::/10", "fc00::/7", "ff00::/8", "2001:db8::/32", "2001::/32", "100::/64",
]
ENTRIES += [(network, city_record("DK", "Denmark", "Nowhere", "85")) for network in NOT_ROUTABLE]

# One address inside each entry above, for the tests.
COPENHAGEN_V4 = "80.62.117.9"
AARHUS_V4 = "87.49.41.200"
HILLEROD_V4 = "2.104.9.9"
STOCKHOLM_V4 = "78.72.1.2"
ODENSE_V6 = "2a02:aa1:1:2::3"
GOTHENBURG_V6 = "2001:2002:51::77"
GERMANY_V4 = "185.12.3.4"
# Public, but in no entry.
UNLISTED_V4 = "203.0.114.1"
UNLISTED_V6 = "2a03:9999::1"


def write_city_db(path: Path, entries=None, database_type: str = "GeoLite2-City") -> Path:
    """An IPv6 tree with the IPv4 space mapped in, as GeoLite2-City has."""
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type=database_type,
        languages=["en", "de", "ja"],
        description="cookiegate test City database",
    )
    for network, record in ENTRIES if entries is None else entries:
        writer.insert_network(IPSet([network]), record)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written next to the target and renamed, as geoipupdate does, so a reader never sees half a file.
    partial = path.with_name(path.name + ".part")
    writer.to_db_file(str(partial))
    partial.replace(path)
    return path


def write_corrupt_db(path: Path, in_place: bool = False) -> Path:
    """Garbage under the database's name: renamed into place, or written over the file that is in use."""
    path = Path(path)
    garbage = b"this is not a MaxMind database\n" * 64
    if in_place:
        with open(path, "r+b" if path.exists() else "wb") as handle:
            handle.write(garbage)
        return path
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(garbage)
    partial.replace(path)
    return path
