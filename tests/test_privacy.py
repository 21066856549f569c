"""No IP address, raw User-Agent, query string or token in the database, the logs or an answer."""
from __future__ import annotations

import json
import logging

import requests

from .support import consent_body, database_text, post_consent

FORWARDED = "203.0.113.77, 198.51.100.23"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) DistinctiveBrowser/9.8.7-cookiegate-privacy-probe"
EMAIL = "visitor.privacy.probe@example.dk"
SECRETS = ["203.0.113.77", "198.51.100.23", "DistinctiveBrowser", "cookiegate-privacy-probe", EMAIL, "visitor.privacy.probe"]


def assert_absent(text: str, where: str, extra=()) -> None:
    for secret in (*SECRETS, *extra):
        assert secret not in text, f"{secret!r} found in {where}"


def test_nothing_identifying_is_stored_or_logged_by_the_app(client, site, caplog):
    caplog.set_level(logging.DEBUG)
    headers = {"X-Forwarded-For": FORWARDED, "User-Agent": AGENT, "Referer": f"https://shop.example.dk/?email={EMAIL}"}
    answer = post_consent(client, site.key, consent_body(url=f"https://shop.example.dk/kurv?email={EMAIL}&utm=x"), headers=headers).get_json()
    token = answer["token"]
    client.post(f"/api/v1/sites/{site.key}/impressions", headers=dict(headers, Origin="https://shop.example.dk"))
    client.get(f"/api/v1/sites/{site.key}/decision", query_string={"token": token, "email": EMAIL}, headers=headers)
    client.get(f"/api/v1/sites/{site.key}/consents/{answer['consent_id']}", query_string={"token": token}, headers=headers)
    client.post(
        f"/api/v1/sites/{site.key}/consents/{answer['consent_id']}/withdraw",
        data=json.dumps({"token": token, "url": f"https://shop.example.dk/?email={EMAIL}"}),
        headers=dict(headers, Origin="https://shop.example.dk"),
    )
    # Bad requests carrying the same data, too.
    post_consent(client, site.key, raw=f'{{"url": "https://shop.example.dk/?email={EMAIL}"'.encode(), headers=headers)
    post_consent(client, site.key, consent_body(language=EMAIL), headers=headers)
    assert_absent(database_text(), "the database", extra=[token])
    assert_absent(caplog.text, "the application log", extra=[token])


def test_live_server_logs_and_database_hold_no_address_agent_query_or_token(live_server, live_site):
    origin = "http://localhost:%d" % live_server.port
    headers = {"X-Forwarded-For": FORWARDED, "User-Agent": AGENT, "Origin": origin, "Content-Type": "text/plain"}
    base = f"{live_server.url}/api/v1/sites/{live_site.key}"
    response = requests.post(f"{base}/consents", data=json.dumps(consent_body(url=f"{origin}/?email={EMAIL}")), headers=headers, timeout=10)
    assert response.status_code == 201
    token = response.json()["token"]
    requests.get(f"{base}/decision", params={"token": token, "email": EMAIL}, headers=headers, timeout=10)
    requests.get(f"{base}/config", params={"lang": "da", "email": EMAIL}, headers=headers, timeout=10)
    requests.post(f"{base}/consents", data=b"\xff not json", headers=headers, timeout=10)
    requests.get(f"{live_server.url}/no/such/page", params={"email": EMAIL}, headers=headers, timeout=10)
    assert_absent(database_text(), "the database", extra=[token])
    logs = live_server.logs()
    assert "POST /api/v1/sites/" in logs  # the access log is written, just without those details
    assert_absent(logs, "gunicorn's logs", extra=[token, "email="])
    # The socket peer (this test, on loopback) is a client address too.
    assert "127.0.0.1" not in live_server.access_log.read_text()
