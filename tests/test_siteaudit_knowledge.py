"""The audit's knowledge (cookiegate/siteaudit/data/trackers.json and necessary.json) as reviewed
data: valid against their schemas, every fact with a source (and the Open Cookie Database really
listing what it is cited for), no name claimed twice, patterns that do not catch a shop's own
pages, and the trackers the issue names all there."""
from __future__ import annotations

import csv
import json

import pytest
from jsonschema import Draft202012Validator

from cookiegate.siteaudit.knowledge import DATA, NECESSARY_FILE, TRACKERS_FILE, necessary, trackers

TRACKERS = json.loads(TRACKERS_FILE.read_text(encoding="utf-8"))
NECESSARY = json.loads(NECESSARY_FILE.read_text(encoding="utf-8"))
OCD = "open-cookie-database"


@pytest.fixture(scope="module")
def ocd_names() -> tuple[set[str], set[str]]:
    """(exact names, wildcard prefixes) of the Open Cookie Database copy."""
    exact, prefixes = set(), set()
    with (DATA / "cookies.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            (prefixes if row["wildcard"] == "1" else exact).add(row["name"].rstrip("*"))
    return exact, prefixes


@pytest.mark.parametrize("name", ["trackers", "necessary"])
def test_each_file_is_valid_against_its_schema(name):
    schema = json.loads((DATA / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors({"trackers": TRACKERS, "necessary": NECESSARY}[name])]
    assert errors == []


def test_at_least_forty_trackers_with_the_ones_the_issue_names():
    ids = [t["id"] for t in TRACKERS["trackers"]]
    assert len(ids) == len(set(ids)) >= 40
    for wanted in ("google-analytics", "google-ads", "google-tag-manager", "meta-pixel", "microsoft-clarity", "microsoft-advertising",
                   "azure-application-insights", "linkedin-insight", "tiktok-pixel", "pinterest-tag", "snap-pixel", "x-pixel", "hotjar",
                   "matomo", "adobe-analytics", "hubspot", "criteo", "taboola", "outbrain", "youtube", "vimeo", "google-maps"):
        assert wanted in ids


def test_every_fact_has_a_source_and_the_danish_purpose_is_written_out():
    for tracker in TRACKERS["trackers"]:
        for field in ("cookies", "storage", "hosts", "requests"):
            value = tracker[field]
            present = any(value.values()) if isinstance(value, dict) else bool(value)
            assert present == bool(tracker["sources"].get(field)), (tracker["id"], field)
        assert tracker["purpose"]["da"] != tracker["purpose"]["en"], tracker["id"]
        assert tracker["cookies"] or tracker["hosts"] or tracker["requests"], tracker["id"]
    for entry in NECESSARY["entries"]:
        assert entry["sources"] and entry["reason"]["da"] != entry["reason"]["en"], entry["id"]


def test_names_cited_only_to_the_open_cookie_database_are_in_it(ocd_names):
    exact, prefixes = ocd_names
    missing = []
    for tracker in TRACKERS["trackers"]:
        if tracker["sources"].get("cookies") != [OCD]:
            continue
        cookies = tracker["cookies"]
        for name in cookies["exact"] + cookies["on_vendor_hosts"]:
            if name not in exact and not any(name.startswith(p) for p in prefixes):
                missing.append((tracker["id"], name))
        for prefix in cookies["prefixes"]:
            if prefix not in prefixes and not any(name.startswith(prefix) for name in exact):
                missing.append((tracker["id"], prefix + "*"))
    assert missing == []


def test_no_name_host_or_prefix_is_claimed_by_two_trackers():
    def claimed(pick):
        seen: dict[str, str] = {}
        twice = []
        for tracker in TRACKERS["trackers"]:
            for item in pick(tracker):
                if item in seen:
                    twice.append((item, seen[item], tracker["id"]))
                seen[item] = tracker["id"]
        return twice

    assert claimed(lambda t: t["cookies"]["exact"]) == []
    assert claimed(lambda t: t["cookies"]["prefixes"]) == []
    assert claimed(lambda t: t["storage"]["exact"] + t["storage"]["prefixes"]) == []
    assert claimed(lambda t: t["hosts"]) == []


def test_the_reviewed_necessary_list_names_no_tracker():
    base = trackers()
    for entry in NECESSARY["entries"]:
        for name in entry["cookies"]["exact"] + [p + "x" for p in entry["cookies"]["prefixes"]]:
            assert base.cookie(name) is None, (entry["id"], name)
        for name in entry["storage"]["exact"] + [p + "x" for p in entry["storage"]["prefixes"]]:
            assert base.storage(name) is None, (entry["id"], name)
    assert len(NECESSARY["entries"]) <= 40  # short on purpose


def test_url_patterns_catch_tracker_endpoints_on_any_host_and_not_a_shops_own_pages():
    base = trackers()
    hits = {
        "https://sgtm.shop.dk/g/collect?v=2&tid=G-1&cid=1.2": "google-analytics",
        "https://shop.dk/collect?v=1&tid=UA-1-1&cid=1.2&t=pageview": "google-analytics",
        "https://shop.dk/gtm.js?id=GTM-ABC": "google-tag-manager",
        "https://shop.dk/tr?id=1&ev=PageView": "meta-pixel",
        "https://stats.shop.dk/matomo.php?idsite=1&rec=1": "matomo",
        "https://metrics.shop.dk/b/ss/rsid/10/JS-2.22.0/s123": "adobe-analytics",
        "https://shop.dk/com.snowplowanalytics.snowplow/tp2": "snowplow",
        "https://shop.dk/pagead/1p-user-list/123/?random=1": "google-ads",
        "https://bat.bing.com/action/0?ti=1&evt=pageLoad": "microsoft-advertising",
        "https://www.clarity.ms/tag/abc": "microsoft-clarity",
        "https://x.clarity.ms/collect": "microsoft-clarity",
    }
    for url, tracker in hits.items():
        found = base.request(url)
        assert found is not None and found.tracker.id == tracker, url
    for url in ("https://shop.dk/", "https://shop.dk/index.html", "https://shop.dk/collect", "https://shop.dk/tr", "https://shop.dk/tr/",
                "https://shop.dk/api/cart", "https://shop.dk/js/app.js", "https://shop.dk/i", "https://shop.dk/g/collect",
                "https://shop.dk/track?id=1", "https://shop.dk/pagead", "https://fonts.gstatic.com/s/x.woff2"):
        assert base.request(url) is None, url


def test_the_loaded_lists_match_the_files():
    assert len(trackers().trackers) == len(TRACKERS["trackers"])
    assert len(necessary().entries) == len(NECESSARY["entries"])
    assert trackers().cookie("_hjSessionUser_123").how == "cookie prefix _hj"
    assert trackers().cookie("fr", "www.facebook.com").tracker.id == "meta-pixel"
    assert trackers().cookie("fr", "www.shop.test") is None
