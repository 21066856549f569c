"""The demo: a pretend Danish shop that embeds the banner, and realistic sample data."""
from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Callable, Optional

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import func, select

from . import dbutil
from .consents import ConsentRequest, record_batch
from .extensions import db
from .models import ImpressionCount, Site, utcnow
from .sites import create_site, get_site
from .state import process_state
from .users import create_user, get_user
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


DEMO_MARKETER = "marketing@fjordkaffe.example"
DEMO_PASSWORD = "fjordkaffe-demo"
BATCH = 5_000


DEMO_ADMIN = "admin@fjordkaffe.example"
DEMO_ADMIN_PASSWORD = "fjordkaffe-admin"


def ensure_demo_users(site: Site) -> None:
    """A marketer who sees the demo site and an administrator for the console. Their passwords
    are printed by `demo`, so `demo` makes them only outside production."""
    if get_user(DEMO_MARKETER) is None:
        create_user(DEMO_MARKETER, DEMO_PASSWORD, "marketer", [site], actor="demo")
    if get_user(DEMO_ADMIN) is None:
        create_user(DEMO_ADMIN, DEMO_ADMIN_PASSWORD, "admin", [], actor="demo")


def _sample_day(rng: random.Random, state, categories, day_start: dt.datetime, count: int, now: dt.datetime):
    """One day's consents (in time order) and its impressions {(country, device, moment): n}."""
    # Visitors come between 06 and 23 UTC; today only up to now.
    low, high = day_start + dt.timedelta(hours=6), min(day_start + dt.timedelta(hours=23), now)
    if high <= low:
        low, high = day_start, now
    span = (high - low).total_seconds()
    moments = sorted(low + dt.timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
    consents, impressions = [], defaultdict(int)
    for moment in moments:
        country, region, city = _pick(rng, PLACES)
        device_type, browser, os_family = _pick(rng, DEVICES)
        (method,) = _pick(rng, METHOD_WEIGHTS)
        if method == "custom":
            choices = {slug: slug == "necessary" or rng.random() < 0.5 for slug in categories}
        else:
            choices = {slug: slug == "necessary" or method == "accept_all" for slug in categories}
        request = ConsentRequest(choices=choices, method=method, policy_version=state.policy_version,
                                 page_url="http://127.0.0.1:8000/demo/", language=rng.choice(("da",) * 9 + ("en",)),
                                 gpc=rng.random() < 0.03)
        bot = device_type == "bot"
        consents.append((request, Visitor(Location(country, region, city), Device(device_type, browser, os_family, bot)), moment))
        # Roughly one in six visitors leaves without answering; bots are not counted as impressions.
        if not bot:
            impressions[(country, device_type, moment)] += 1 if rng.random() < 0.83 else 2
    return consents, impressions


def seed_sample_data(site: Site, days: int = 30, consents: Optional[int] = None, seed: int = 2026,
                     now: Optional[dt.datetime] = None, progress: Optional[Callable[[int], None]] = None) -> int:
    """`consents` consents (default 40 a day) over the last `days` days, recorded in batches through
    consents.record_batch (the chain, hashes and banner snapshots of the API's own recording path),
    with their impressions, and summed into the statistics as they go."""
    from .stats.rollup import catch_up, count_impressions

    rng = random.Random(seed)
    now = now or utcnow()
    process = process_state()
    process.sites.invalidate(site.key)
    state = process.sites.get(site.key)
    categories = list(state.categories)
    total = consents if consents is not None else 40 * days
    weights = [rng.uniform(0.6, 1.4) for _ in range(days)]
    scale = total / sum(weights)
    per_day = [int(w * scale) for w in weights]
    per_day[-1] += total - sum(per_day)
    recorded = 0
    for day_offset, count in zip(range(days, 0, -1), per_day):
        day_start = (now - dt.timedelta(days=day_offset - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        day_consents, impressions = _sample_day(rng, state, categories, day_start, count, now)
        for offset in range(0, len(day_consents), BATCH):
            chunk = day_consents[offset:offset + BATCH]
            recorded += record_batch(process, state, chunk)
            if progress:
                progress(len(chunk))
        _log_impressions(site.id, impressions)
        count_impressions(site.id, impressions)
        db.session.commit()
        catch_up(site.id)
    return recorded


def _log_impressions(site_id: int, impressions: dict) -> None:
    """The impression counter per UTC day, country and device (what the API's impressions feed)."""
    sums: dict[tuple, int] = defaultdict(int)
    for (country, device, moment), n in impressions.items():
        sums[(moment.date(), country, device)] += n
    if not sums:
        return
    table = ImpressionCount.__table__
    statement = dbutil.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["site_id", "day", "country", "device_type"], set_={"count": table.c.count + statement.excluded.count}
    )
    db.session.execute(statement, [{"site_id": site_id, "day": day, "country": country, "device_type": device, "count": n}
                                   for (day, country, device), n in sums.items()])


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
