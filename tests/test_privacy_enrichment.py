"""With location and device enrichment on, no address and no User-Agent (nor a piece of one) is kept anywhere.

Traffic from distinctive addresses (IPv4 and IPv6 in X-Forwarded-For, a forged
multi-hop header, a distinctive loopback socket peer) and distinctive agents
goes through the live gunicorn server with the shipped config and a City
database; then every text of every table, the raw SQLite file, the application
log and gunicorn's access and error logs are searched for them.
"""
from __future__ import annotations

import importlib.util
import ipaddress
import json
import logging
import socket
from pathlib import Path

import pytest
import requests
from sqlalchemy import inspect, select, text

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord

from .conftest import TEST_KEYS
from .mmdb_builder import write_city_db
from .support import ROOT, LiveServer, consent_body, impressions, log_containing, make_site

# In the test database's Copenhagen and Odense networks, but nowhere else in the suite.
CLIENT_V4 = "80.62.119.213"
CLIENT_V6 = "2a02:aa1:7e57:4b1d::c0de"
FORGED_V4 = "78.72.201.99"  # Stockholm, written by the client left of what the proxy saw
FORGED_V6 = "2001:2002:dead:beef::99"
PEER = "127.77.31.9"  # the socket peer: this test binds it on loopback

AGENT = (
    "Mozilla/5.0 (Linux; Android 14; ZX-PROBE-7731 Build/UQ1A.240205.004) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.6478.1234 Mobile Safari/537.36 CookiegateProbe/4.2.1-enrich"
)
BOT_AGENT = "Mozilla/5.0 (compatible; ZorgProbeBot/3.1; +https://probe.example/zorg-ab12)"
HINT_PLATFORM = '"Zorgix-Probe-OS"'

SECRETS = [
    CLIENT_V4, CLIENT_V6, FORGED_V4, FORGED_V6, PEER,
    # Other spellings of the same addresses, and the networks they are in.
    ipaddress.ip_address(CLIENT_V6).exploded, "::ffff:" + CLIENT_V4, "80.62.119.", "2a02:aa1:7e57", "2a02:0aa1:7e57",
    "78.72.201.", "127.77.31.",
    AGENT, BOT_AGENT, "ZX-PROBE-7731", "UQ1A.240205.004", "6478.1234", "CookiegateProbe", "4.2.1-enrich",
    "ZorgProbeBot", "zorg-ab12", "probe.example", "Zorgix",
]


def assert_absent(haystack: str, where: str) -> None:
    found = [secret for secret in SECRETS if secret.lower() in haystack.lower()]
    assert not found, f"{found} found in {where}"


def whole_database_text() -> str:
    """Every value of every row of every table the database has (not only the models' tables)."""
    db.session.expire_all()
    parts = []
    for table in inspect(db.engine).get_table_names():
        for row in db.session.execute(text(f'SELECT * FROM "{table}"')).all():
            parts.extend(json.dumps(value, default=str, ensure_ascii=False) for value in row)
    db.session.rollback()
    return "\n".join(parts)


def raw_sqlite_bytes() -> bytes:
    """The SQLite file and its write-ahead log as bytes: what a copy of the disk would show."""
    if db.engine.dialect.name != "sqlite":
        return b""
    path = Path(db.engine.url.database)
    return b"".join(p.read_bytes() for p in (path, Path(str(path) + "-wal")) if p.exists())


@pytest.fixture(scope="module")
def geo_server(migrated, tmp_path_factory):
    """gunicorn with the shipped config behind one trusted proxy, with a City database."""
    workdir = tmp_path_factory.mktemp("geo-live")
    database = write_city_db(workdir / "GeoLite2-City.mmdb")
    server = LiveServer(
        migrated, workdir, secret_keys=TEST_KEYS, workers=2,
        COOKIEGATE_GEOIP_DB=str(database), COOKIEGATE_TRUSTED_PROXIES="1",
    )
    server.start()
    yield server
    server.stop()


def raw_request(server: LiveServer, payload: bytes) -> bytes:
    """Bytes straight to gunicorn from the distinctive loopback peer; what it answers."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5, source_address=(PEER, 0)) as sock:
        sock.sendall(payload)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


def test_live_traffic_leaves_no_address_or_agent_in_the_database_or_any_log(geo_server, app):
    origin = geo_server.url
    site = make_site(origins=[origin])
    base = f"{geo_server.url}/api/v1/sites/{site.key}"
    browser = {"Origin": origin, "Content-Type": "text/plain", "User-Agent": AGENT,
               "Sec-CH-UA-Mobile": "?1", "Sec-CH-UA-Platform": HINT_PLATFORM}

    def post(path, body, forwarded, **headers):
        return requests.post(base + path, data=body if isinstance(body, (bytes, str)) else json.dumps(body),
                             headers={**browser, "X-Forwarded-For": forwarded, **headers}, timeout=10)

    # A forged multi-hop header: only the right-most address (what the trusted proxy saw) counts.
    first = post("/consents", consent_body(url=f"{origin}/kurv"), f"{FORGED_V4}, {FORGED_V6}, {CLIENT_V4}")
    assert first.status_code == 201, first.text
    second = post("/consents", consent_body(url=f"{origin}/"), CLIENT_V6)
    assert second.status_code == 201, second.text
    bot = post("/consents", consent_body(url=f"{origin}/"), CLIENT_V4, **{"User-Agent": BOT_AGENT})
    assert bot.status_code == 201, bot.text
    token, consent_id = first.json()["token"], first.json()["consent_id"]

    assert post("/impressions", b"", f"{FORGED_V4}, {CLIENT_V4}").status_code == 204
    assert post("/impressions", b"", CLIENT_V6).status_code == 204
    forwarded = {**browser, "X-Forwarded-For": CLIENT_V4, "X-Cookiegate-Token": token}
    assert requests.get(f"{base}/decision", headers=forwarded, timeout=10).status_code == 200
    assert requests.get(f"{base}/consents/{consent_id}", headers=forwarded, timeout=10).status_code == 200
    assert requests.get(f"{base}/config", params={"lang": "da"}, headers=forwarded, timeout=10).status_code == 200
    withdrawn = post(f"/consents/{consent_id}/withdraw", {"token": token}, f"{FORGED_V6}, {CLIENT_V6}")
    assert withdrawn.status_code == 201, withdrawn.text

    # Error paths carrying the same headers.
    errors = {
        400: post("/consents", b"\xff not json", CLIENT_V4),
        403: post("/consents", consent_body(), CLIENT_V4, Origin="https://evil.example"),
        404: requests.post(f"{geo_server.url}/api/v1/sites/nosuchsite/consents", data=json.dumps(consent_body()),
                           headers={**browser, "X-Forwarded-For": CLIENT_V6}, timeout=10),
        409: post("/consents", consent_body(policy_version=99), CLIENT_V6),
        413: post("/consents", b"{" + b" " * 9000 + b"}", CLIENT_V4),
        422: post("/consents", consent_body(choices={"nonsense": True}), CLIENT_V4),
        401: requests.get(f"{base}/consents/{consent_id}", headers={**forwarded, "X-Cookiegate-Token": "forged"}, timeout=10),
    }
    assert {status: r.status_code for status, r in errors.items()} == {s: s for s in errors}

    # From the distinctive peer, without X-Forwarded-For: gunicorn sees the peer, the app sees no forwarded address.
    answer = raw_request(geo_server, (
        f"GET /api/v1/sites/{site.key}/config HTTP/1.1\r\nHost: x\r\nUser-Agent: {AGENT}\r\nConnection: close\r\n\r\n"
    ).encode())
    assert answer.startswith(b"HTTP/1.1 200")
    # Requests gunicorn itself rejects (stock gunicorn logs "Invalid request from ip=<peer>: <the bad line>").
    for payload in (
        f"GET /healthz HTTP/1.1\r\nHost: x\r\nUser-Agent {AGENT}\r\n\r\n",
        f"GET /healthz?ip={CLIENT_V4} HTTP/1.1 {BOT_AGENT}\r\nHost: x\r\n\r\n",
        f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: {CLIENT_V4}\r\nBad\x01Name-{BOT_AGENT}: 1\r\n\r\n",
    ):
        assert raw_request(geo_server, payload.encode()).startswith(b"HTTP/1.1 400")

    # The enrichment did happen: from the proxy's address and the agent, only the coarse parts were kept.
    db.session.expire_all()
    rows = db.session.execute(
        select(ConsentRecord).where(ConsentRecord.site_id == site.id).order_by(ConsentRecord.seq)
    ).scalars().all()
    kept = [(r.method, r.country, r.region, r.city, r.device_type, r.browser_family, r.os_family, r.is_bot) for r in rows]
    assert kept == [
        ("custom", "DK", "DK-84", "Copenhagen", "mobile", "Chrome Mobile", "Android", False),
        ("custom", "DK", "DK-83", "Odense", "mobile", "Chrome Mobile", "Android", False),
        ("custom", "DK", "DK-84", "Copenhagen", "bot", "Other", "Other", True),
        ("withdraw", "DK", "DK-83", "Odense", "mobile", "Chrome Mobile", "Android", False),
    ]
    assert impressions(site.id, "country") == {"DK": 2} and impressions(site.id, "device") == {"mobile": 2}

    # Nothing else was.
    assert_absent(whole_database_text(), "the database")
    raw = raw_sqlite_bytes().decode("latin-1")
    assert_absent(raw, "the SQLite file")

    error_log = log_containing(geo_server.error_log, "Invalid request rejected")
    access_log = geo_server.access_log.read_text(errors="replace")
    assert_absent(error_log, "gunicorn's error log (with the application log)")
    assert_absent(access_log, "gunicorn's access log")
    assert "ip=" not in error_log
    # The logs are really written, the application's own lines included, just without those details.
    assert "GeoIP: using GeoLite2-City" in error_log
    assert error_log.count("Invalid request rejected (") == 3
    assert f"POST /api/v1/sites/{site.key}/consents" in access_log and '" 413 ' in access_log


def test_in_process_application_log_holds_no_address_or_agent(make_app, app, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    database = write_city_db(tmp_path / "GeoLite2-City.mmdb")
    geo_app = make_app(COOKIEGATE_GEOIP_DB=str(database), COOKIEGATE_TRUSTED_PROXIES=1, COOKIEGATE_GEOIP_RECHECK=0)
    site = make_site(origins=["https://shop.example.dk"])
    client = geo_app.test_client()
    headers = {"Origin": "https://shop.example.dk", "Content-Type": "text/plain", "User-Agent": AGENT,
               "X-Forwarded-For": f"{FORGED_V4}, {CLIENT_V4}", "Sec-CH-UA-Platform": HINT_PLATFORM}
    url = f"/api/v1/sites/{site.key}/consents"
    assert client.post(url, data=json.dumps(consent_body()), headers=headers,
                       environ_base={"REMOTE_ADDR": PEER}).status_code == 201
    assert client.post(url, data=json.dumps(consent_body(choices=[])), headers=headers).status_code == 422
    assert client.post(url, data=b"\xff", headers=headers).status_code == 400
    # A database swapped for garbage mid-traffic: logged, without the address being looked up.
    (tmp_path / "GeoLite2-City.mmdb").write_bytes(b"garbage" * 100)
    assert client.post(url, data=json.dumps(consent_body()), headers={**headers, "X-Forwarded-For": CLIENT_V6}).status_code == 201
    assert "cannot be used" in caplog.text
    assert_absent(caplog.text, "the application log")
    assert_absent(whole_database_text(), "the database")


def load_gunicorn_config(monkeypatch):
    # The config sets COOKIEGATE_ENV=production if unset; keep that out of this process.
    monkeypatch.setenv("COOKIEGATE_ENV", "testing")
    spec = importlib.util.spec_from_file_location("cookiegate_gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_error_log_drops_addresses_request_lines_and_uris(monkeypatch, tmp_path):
    from gunicorn.config import Config

    module = load_gunicorn_config(monkeypatch)
    assert "%(h)s" not in module.access_log_format and "%(a)s" not in module.access_log_format
    assert "%(q)s" not in module.access_log_format and "%(r)s" not in module.access_log_format
    assert module.capture_output is True
    config = Config()
    config.set("errorlog", str(tmp_path / "error.log"))
    config.set("loglevel", "debug")
    logger = module.logger_class(config)
    logger.warning(f"Invalid request from ip={CLIENT_V6}: Invalid HTTP Header: 'User-Agent {AGENT}'")
    logger.warning(f"Invalid request from ip={CLIENT_V4}: '{BOT_AGENT}'")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("Error handling request %s %s", "GET", f"/api?ip={CLIENT_V4}&ua={BOT_AGENT}")
    logger.warning("Worker with pid %s was terminated due to signal %s", 42, 9)
    written = (tmp_path / "error.log").read_text()
    assert "Invalid request rejected (Invalid HTTP Header)" in written
    assert "Invalid request rejected (unparseable)" in written
    assert "Error handling request" in written and "RuntimeError: boom" in written
    assert "Worker with pid 42 was terminated due to signal 9" in written
    assert_absent(written, "the error log")
