"""What a cookie, a storage key or a request is for, and who says so.

A cookie or storage key, first answer wins:

1. cookiegate's own consent cookie and storage: necessary;
2. the tracker knowledge base (data/trackers.json): the tracker's category and purpose. The site's
   declaration may name the same cookie; it is then reported as declared, but a known tracker the
   site calls necessary (or puts in a category it marks required) stays a finding: no
   declaration turns Meta's `_fbp` into a strictly necessary cookie;
3. the site's own declaration (what its banner tells visitors);
4. the reviewed list of cookies strictly necessary by nature (data/necessary.json), for
   first-party cookies only;
5. the Open Cookie Database (data/cookies.csv): its Analytics, Marketing and Personalization map
   to statistics, marketing and preferences. Its "Functional" (also Security and Necessary) is
   *not* strictly necessary in the ePrivacy sense (Hotjar's and LinkedIn's rows are there): it
   becomes the category `functional`, which needs consent like any other;
6. else `unclassified`, which needs consent too: nobody has said it is necessary.

Only `necessary` (and a category the site marks required, for what is not a known tracker) may
run before consent. A request is judged by the knowledge base (host or URL pattern, so a
first-party proxy is caught), then the site's declared services; a request to a host nobody
knows is listed but is not a finding (docs/audit.md says why).
"""
from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from .knowledge import DATA, KnowledgeBase, Tracker, necessary, trackers, under

NECESSARY = "necessary"
FUNCTIONAL = "functional"
UNCLASSIFIED = "unclassified"
OCD_CATEGORIES = {
    "Analytics": "statistics",
    "Marketing": "marketing",
    "Personalization": "preferences",
    "Functional": FUNCTIONAL,
    "Security": FUNCTIONAL,
    "Necessary": FUNCTIONAL,
}
# Hosts the declared built-in services load from, by service kind.
SERVICE_HOSTS = {
    "google_analytics": ("googletagmanager.com", "google-analytics.com", "analytics.google.com"),
    "facebook_pixel": ("facebook.net", "facebook.com"),
}
BANNER_COOKIE = "cookiegate"
BANNER_STORAGE_PREFIX = "cookiegate:"
_DOMAIN = re.compile(r"[a-z0-9][a-z0-9.-]*\.[a-z]{2,}")

# Who classified something, as the report names it.
BY_COOKIEGATE = "cookiegate"
BY_DECLARATION = "declaration"
BY_KNOWLEDGE_BASE = "knowledge-base"
BY_NECESSARY_LIST = "necessary-list"
BY_OCD = "open-cookie-database"
BY_NOBODY = "none"


@dataclass(frozen=True)
class Entry:
    name: str
    category: str
    source: str  # "declaration" | "open-cookie-database"
    provider: str = ""
    wildcard: bool = False
    domains: tuple[str, ...] = ()
    purpose: str = ""
    ocd_category: str = ""

    def matches(self, name: str, host: str = "") -> bool:
        if self.domains and host and not any(under(host, d) for d in self.domains):
            return False
        return name.startswith(self.name) if self.wildcard else name == self.name


def _pattern(name: str) -> tuple[str, bool]:
    """A declared name: `_ga_*` (or `_ga_`…) is a prefix, anything else exact."""
    if name.endswith("*"):
        return name.rstrip("*"), True
    return name, False


@functools.cache
def open_cookie_database() -> tuple[dict[str, list[Entry]], list[Entry]]:
    """(exact entries by name, wildcard entries longest prefix first)."""
    exact: dict[str, list[Entry]] = {}
    wildcard: list[Entry] = []
    with (DATA / "cookies.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = row["name"].strip()
            if not name:
                continue
            domains = tuple(d.removeprefix("www.") for d in _DOMAIN.findall(row["domain"].lower()))
            entry = Entry(
                name=name,
                category=OCD_CATEGORIES.get(row["category"], UNCLASSIFIED),
                source=BY_OCD,
                provider=row["platform"] or row["controller"],
                wildcard=row["wildcard"] == "1",
                domains=domains,
                ocd_category=row["category"],
            )
            if entry.wildcard:
                wildcard.append(entry)
            else:
                exact.setdefault(name, []).append(entry)
    wildcard.sort(key=lambda e: len(e.name), reverse=True)
    return exact, wildcard


def _ocd_lookup(name: str, host: str) -> Optional[Entry]:
    exact, wildcard = open_cookie_database()
    candidates: Iterable[Entry] = exact.get(name, ())
    # An entry naming its domain matches only there ("sessionid" on instagram.com is not yours).
    found = next((e for e in candidates if e.domains and e.matches(name, host)), None)
    found = found or next((e for e in candidates if not e.domains), None)
    if found is None:
        found = next((e for e in wildcard if e.matches(name, host) and e.domains), None)
        found = found or next((e for e in wildcard if not e.domains and e.matches(name, host)), None)
    return found


@dataclass
class Declaration:
    """What the site tells its visitors: categories (and which are required), services, cookies."""

    source: str = "none"  # "database" | "config" | "none"
    required: frozenset[str] = frozenset({NECESSARY})
    entries: list[Entry] = field(default_factory=list)
    hosts: dict[str, str] = field(default_factory=dict)  # domain -> category
    policy_version: Optional[int] = None
    categories: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: dict[str, Any], source: str) -> "Declaration":
        """From the banner config (`sites.public_config`, the same JSON the public endpoint serves)."""
        required = {c["slug"] for c in config.get("categories", []) if c.get("required")} | {NECESSARY}
        entries = [
            Entry(c["name"], NECESSARY, BY_DECLARATION, c.get("provider", ""), purpose=c.get("purpose", ""))
            for c in config.get("necessary_cookies", [])
        ]
        hosts: dict[str, str] = {}
        for service in config.get("services", []):
            category = NECESSARY if service["category"] in required else service["category"]
            for cookie in service.get("cookies", []):
                name, wildcard = _pattern(cookie["name"])
                provider = cookie.get("provider") or service.get("provider", "")
                entries.append(Entry(name, category, BY_DECLARATION, provider, wildcard, purpose=cookie.get("purpose", "")))
            for host in SERVICE_HOSTS.get(service.get("kind", ""), ()):
                hosts[host] = category
        categories = tuple(c["slug"] for c in config.get("categories", []))
        return cls(source, frozenset(required), entries, hosts, config.get("policy_version"), categories)

    def lookup(self, name: str, host: str = "") -> Optional[Entry]:
        exact = [e for e in self.entries if not e.wildcard and e.matches(name, host)]
        if exact:
            return exact[0]
        prefixes = sorted((e for e in self.entries if e.wildcard and e.matches(name, host)), key=lambda e: -len(e.name))
        return prefixes[0] if prefixes else None


@dataclass(frozen=True)
class Classification:
    category: str
    source: str  # BY_* above
    provider: str = ""
    purpose: Optional[dict[str, str]] = None  # {"en": …, "da": …}; one text in both when only one is known
    tracker: str = ""  # knowledge-base id
    matched: str = ""  # what matched in the knowledge base
    note: str = ""  # e.g. a known tracker the site declares necessary

    def necessary(self, declaration: Declaration) -> bool:
        if self.category == NECESSARY:
            return True
        # A category the site marks required covers what it declares, never a known tracker.
        return self.category in declaration.required and self.source != BY_KNOWLEDGE_BASE


def _both(text: str) -> dict[str, str]:
    return {"en": text, "da": text}


def _tracker(found: Tracker, matched: str, **extra) -> Classification:
    return Classification(found.category, BY_KNOWLEDGE_BASE, f"{found.vendor}: {found.product}", found.purpose, found.id, matched, **extra)


def _ocd(entry: Entry) -> Classification:
    label = entry.ocd_category or "?"
    return Classification(
        entry.category,
        BY_OCD,
        entry.provider,
        {"en": f"{entry.provider}: {label} (Open Cookie Database)", "da": f"{entry.provider}: {label} (Open Cookie Database)"},
    )


def _declared(entry: Entry, found: Optional[Tracker], matched: str) -> Classification:
    purpose = found.purpose if found else (_both(entry.purpose) if entry.purpose else None)
    provider = entry.provider or (f"{found.vendor}: {found.product}" if found else "")
    return Classification(entry.category, BY_DECLARATION, provider, purpose, found.id if found else "", matched)


def _known_and_declared(name: str, host: str, declaration: Declaration, known) -> Optional[Classification]:
    declared = declaration.lookup(name, host)
    if known is not None:
        found = known.tracker
        if declared is not None and declared.category not in declaration.required:
            return _declared(declared, found, known.how)
        note = ""
        if declared is not None:
            note = f"the site declares it {declared.category}, but it is {found.vendor}'s {found.product} ({found.category})"
        return _tracker(found, known.how, note=note)
    if declared is not None:
        return _declared(declared, None, "")
    return None


def classify_cookie(name: str, domain: str, declaration: Declaration, first_party: bool = True) -> Classification:
    """A cookie by name and domain; `first_party`: on the audited site's own registrable domain."""
    if name == BANNER_COOKIE and first_party:
        return Classification(NECESSARY, BY_COOKIEGATE, "cookiegate")
    known_and_declared = _known_and_declared(name, domain, declaration, trackers().cookie(name, domain))
    if known_and_declared is not None:
        return known_and_declared
    if first_party:
        reviewed = necessary().cookie(name)
        if reviewed is not None:
            return Classification(NECESSARY, BY_NECESSARY_LIST, reviewed.kind, reviewed.reason)
    entry = _ocd_lookup(name, domain)
    if entry is not None:
        return _ocd(entry)
    return Classification(UNCLASSIFIED, BY_NOBODY)


def classify_storage(name: str, host: str, declaration: Declaration, first_party: bool = True) -> Classification:
    """A localStorage or sessionStorage key of a frame on `host`."""
    if name.startswith(BANNER_STORAGE_PREFIX) and first_party:
        return Classification(NECESSARY, BY_COOKIEGATE, "cookiegate")
    known_and_declared = _known_and_declared(name, host, declaration, trackers().storage(name))
    if known_and_declared is not None:
        return known_and_declared
    if first_party:
        reviewed = necessary().storage(name)
        if reviewed is not None:
            return Classification(NECESSARY, BY_NECESSARY_LIST, reviewed.kind, reviewed.reason)
    entry = _ocd_lookup(name, host)
    if entry is not None:
        return _ocd(entry)
    return Classification(UNCLASSIFIED, BY_NOBODY)


def classify_request(url: str, declaration: Declaration, service_hosts: Iterable[str] = (), base: Optional[KnowledgeBase] = None) -> Classification:
    """A request: the cookiegate service itself, the knowledge base (URL pattern, then host), the
    site's declared services, else unclassified (listed, not a finding)."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    if host in service_hosts:
        return Classification(NECESSARY, BY_COOKIEGATE, "cookiegate")
    known = (base or trackers()).request(url)
    if known is not None:
        return _tracker(known.tracker, known.how)
    for domain, category in sorted(declaration.hosts.items(), key=lambda item: -len(item[0])):
        if under(host, domain):
            return Classification(category, BY_DECLARATION)
    return Classification(UNCLASSIFIED, BY_NOBODY)
