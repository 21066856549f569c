"""600 consents from 24 concurrent clients through the live server: none lost, none doubled."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import select

from cookiegate.extensions import db
from cookiegate.models import ConsentRecord

from .support import chained, consent_body

CLIENTS = 24
CONSENTS = 600


def test_600_concurrent_consents_are_all_recorded_once(live_server, live_site):
    url = f"{live_server.url}/api/v1/sites/{live_site.key}/consents"
    origin = "http://localhost:%d" % live_server.port
    local = threading.local()
    start = threading.Barrier(CLIENTS)

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            start.wait()  # all 24 clients begin together
        return local.session

    def post(i: int):
        body = consent_body(method=("accept_all", "reject_all")[i % 2], choices=None, url=f"{origin}/page/{i}")
        response = session().post(url, data=json.dumps(body), headers={"Origin": origin, "Content-Type": "text/plain"}, timeout=60)
        return response.status_code, response.json().get("consent_id")

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(post, range(CONSENTS)))

    assert [status for status, _ in results] == [201] * CONSENTS
    acknowledged = {consent_id for _, consent_id in results}
    assert len(acknowledged) == CONSENTS
    records = db.session.execute(
        select(ConsentRecord).where(ConsentRecord.site_id == live_site.id).order_by(ConsentRecord.seq)
    ).scalars().all()
    assert {r.consent_id for r in records} == acknowledged
    assert [r.seq for r in records] == list(range(1, CONSENTS + 1))
    assert chained(records, live_site.key)
    assert sorted(int(r.page_url.rsplit("/", 1)[1]) for r in records) == list(range(CONSENTS))
