"""The demo: a pretend Danish shop that embeds the banner, and realistic sample data."""
from __future__ import annotations

import datetime as dt
import random
from typing import Optional

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import func, select

from .consents import new_consent_id
from .extensions import db
from .impressions import count_impression
from .ledger import record_digest
from .models import ConsentRecord, ImpressionCount, Site, utcnow
from .sites import create_site, get_site
from .visitor import Device, Location, Visitor

DEMO_KEY = "demo"
DEMO_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")

bp = Blueprint("demo", __name__, template_folder="templates")

PLACES = [  # (weight, country, region, city), as geo.py reports them: English city names
    (30, "DK", "DK-84", "Copenhagen"),
    (12, "DK", "DK-82", "Aarhus"),
    (8, "DK", "DK-83", "Odense"),
    (6, "DK", "DK-81", "Aalborg"),
    (5, "DK", "DK-85", "Roskilde"),
    (4, "DK", "DK-83", "Esbjerg"),
    (3, "SE", "SE-M", "Malmo"),
    (2, "DE", "DE-SH", "Flensburg"),
    (2, "NO", "NO-03", "Oslo"),
    (3, "", "", ""),
]
DEVICES = [  # (weight, type, browser, os)
    (28, "mobile", "Mobile Safari", "iOS"),
    (24, "mobile", "Chrome Mobile", "Android"),
    (20, "desktop", "Chrome", "Windows"),
    (8, "desktop", "Edge", "Windows"),
    (7, "desktop", "Safari", "Mac OS X"),
    (5, "desktop", "Firefox", "Windows"),
    (5, "tablet", "Mobile Safari", "iOS"),
    (2, "bot", "Googlebot", "Other"),
    (1, "other", "Other", "Other"),
]
METHOD_WEIGHTS = [(61, "accept_all"), (30, "reject_all"), (9, "custom")]


def _pick(rng: random.Random, table):
    return rng.choices(table, weights=[row[0] for row in table])[0][1:]


def ensure_demo_site() -> tuple[Site, bool]:
    site = get_site(DEMO_KEY)
    if site is not None:
        return site, False
    site = create_site(
        "Fjordkaffe (demo)",
        DEMO_ORIGINS,
        ga="G-DEMO2026",
        fb="1234567890123",
        privacy_policy_url="http://127.0.0.1:8000/demo/privatliv",
        key=DEMO_KEY,
        actor="demo",
    )
    return site, True


def seed_sample_data(site: Site, days: int = 30, per_day: int = 40, seed: int = 2026, now: Optional[dt.datetime] = None) -> int:
    """Consents and impressions over the last `days` days, chained like real ones."""
    rng = random.Random(seed)
    now = now or utcnow()
    categories = [c.slug for c in site.categories]
    seq, head = site.log_seq, site.log_head
    records = []
    for day_offset in range(days, 0, -1):
        day_start = (now - dt.timedelta(days=day_offset)).replace(hour=0, minute=0, second=0, microsecond=0)
        count = max(1, int(per_day * rng.uniform(0.6, 1.4)))
        moments = sorted(day_start + dt.timedelta(seconds=rng.uniform(6 * 3600, 23 * 3600)) for _ in range(count))
        for moment in moments:
            country, region, city = _pick(rng, PLACES)
            device_type, browser, os_family = _pick(rng, DEVICES)
            (method,) = _pick(rng, METHOD_WEIGHTS)
            if method == "custom":
                choices = {slug: slug == "necessary" or rng.random() < 0.5 for slug in categories}
            else:
                choices = {slug: slug == "necessary" or method == "accept_all" for slug in categories}
            seq += 1
            record = ConsentRecord(
                consent_id=new_consent_id(), site_id=site.id, seq=seq, created_at=moment,
                policy_version=site.policy_version, choices=choices, method=method,
                language=rng.choice(["da"] * 9 + ["en"]), page_url="http://127.0.0.1:8000/demo/",
                gpc=rng.random() < 0.03, country=country, region=region, city=city,
                device_type=device_type, browser_family=browser, os_family=os_family,
                is_bot=device_type == "bot", banner_hash="", prev_hash=head,
            )
            record.content_hash = head = record_digest(record, site.key)
            records.append(record)
            # Roughly one in six visitors leaves without answering.
            for _ in range(1 if rng.random() < 0.83 else 2):
                count_impression(
                    site.id,
                    Visitor(Location(country, region, city), Device(device_type, browser, os_family, device_type == "bot")),
                    at=moment,
                    commit=False,
                )
    db.session.add_all(records)
    site.log_seq, site.log_head = seq, head
    db.session.commit()
    return len(records)


def has_sample_data(site: Site) -> bool:
    return bool(db.session.execute(select(func.count()).select_from(ImpressionCount).where(ImpressionCount.site_id == site.id)).scalar())


@bp.get("/demo/")
def demo_page() -> Response:
    if get_site(DEMO_KEY) is None:
        abort(404)
    return Response(render_template("demo.html", site_key=DEMO_KEY, service=request.host_url.rstrip("/")))


@bp.get("/demo/privatliv")
def demo_privacy() -> Response:
    return Response(render_template("demo_privacy.html"))
