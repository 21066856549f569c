"""What a cookie, a storage key or a request to another host is for.

Order: the site's own declaration (what its banner tells visitors), then the Open
Cookie Database (data/cookies.csv, Apache-2.0, see data/NOTICE), else "unclassified".
Anything that is not `necessary` (or another category the site marks as required)
is a finding when it shows up before a choice or after "Reject all"; an
unclassified cookie or storage key counts too: nobody has said it is necessary.

Requests to other hosts are classified by the site's declared services and a short
list of known tag and advertising hosts; a request to a host nobody has classified
is listed in the report but is not a finding (fonts, CDNs, maps), see docs/audit.md.
"""
from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

DATA = Path(__file__).parent / "data"
NECESSARY = "necessary"
UNCLASSIFIED = "unclassified"
# The Open Cookie Database's categories in cookiegate's words. Upstream: "Functional (also
# known as technical, essential or strictly necessary)"; its few "Necessary" rows are Functional
# (data/NOTICE); Security cookies (CSRF tokens) are strictly necessary too.
OCD_CATEGORIES = {
    "Functional": NECESSARY,
    "Necessary": NECESSARY,
    "Security": NECESSARY,
    "Analytics": "statistics",
    "Marketing": "marketing",
    "Personalization": "preferences",
}
# Hosts of tags, by what they are for; a subdomain matches (www.google-analytics.com).
TAG_HOSTS = {
    "google-analytics.com": "statistics",
    "analytics.google.com": "statistics",
    "googletagmanager.com": "statistics",
    "clarity.ms": "statistics",
    "hotjar.com": "statistics",
    "hotjar.io": "statistics",
    "doubleclick.net": "marketing",
    "googleadservices.com": "marketing",
    "googlesyndication.com": "marketing",
    "facebook.net": "marketing",
    "facebook.com": "marketing",
    "ads.linkedin.com": "marketing",
    "snap.licdn.com": "marketing",
    "bat.bing.com": "marketing",
    "analytics.tiktok.com": "marketing",
    "ct.pinterest.com": "marketing",
    "criteo.com": "marketing",
    "criteo.net": "marketing",
    "adnxs.com": "marketing",
    "taboola.com": "marketing",
    "outbrain.com": "marketing",
}
# Hosts the declared built-in services load from, by service kind.
SERVICE_HOSTS = {
    "google_analytics": ("googletagmanager.com", "google-analytics.com", "analytics.google.com"),
    "facebook_pixel": ("facebook.net", "facebook.com"),
}
# The banner's own storage: the consent cookie and the choice kept while the service is unreachable.
BANNER_COOKIE = "cookiegate"
BANNER_STORAGE_PREFIX = "cookiegate:"
_DOMAIN = re.compile(r"[a-z0-9][a-z0-9.-]*\.[a-z]{2,}")


@dataclass(frozen=True)
class Entry:
    name: str
    category: str
    source: str  # "declaration" | "open-cookie-database" | "cookiegate"
    provider: str = ""
    wildcard: bool = False
    domains: tuple[str, ...] = ()

    def matches(self, name: str, host: str = "") -> bool:
        if self.domains and host and not any(_under(host, d) for d in self.domains):
            return False
        return name.startswith(self.name) if self.wildcard else name == self.name


def _under(host: str, domain: str) -> bool:
    host = host.lstrip(".").lower()
    return host == domain or host.endswith("." + domain)


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
                source="open-cookie-database",
                provider=row["platform"] or row["controller"],
                wildcard=row["wildcard"] == "1",
                domains=domains,
            )
            if entry.wildcard:
                wildcard.append(entry)
            else:
                exact.setdefault(name, []).append(entry)
    wildcard.sort(key=lambda e: len(e.name), reverse=True)
    return exact, wildcard


@dataclass
class Declaration:
    """What the site tells its visitors: categories (and which are required), services, cookies."""

    source: str = "none"  # "database" | "config" | "none"
    required: frozenset[str] = frozenset({NECESSARY})
    entries: list[Entry] = field(default_factory=list)
    hosts: dict[str, str] = field(default_factory=dict)  # domain -> category
    policy_version: Optional[int] = None

    @classmethod
    def from_config(cls, config: dict[str, Any], source: str) -> "Declaration":
        """From the banner config (`sites.public_config`, the same JSON the public endpoint serves)."""
        required = {c["slug"] for c in config.get("categories", []) if c.get("required")} | {NECESSARY}
        entries = [Entry(c["name"], NECESSARY, "declaration", c.get("provider", "")) for c in config.get("necessary_cookies", [])]
        hosts: dict[str, str] = {}
        for service in config.get("services", []):
            category = NECESSARY if service["category"] in required else service["category"]
            for cookie in service.get("cookies", []):
                name, wildcard = _pattern(cookie["name"])
                entries.append(Entry(name, category, "declaration", cookie.get("provider") or service.get("provider", ""), wildcard))
            for host in SERVICE_HOSTS.get(service.get("kind", ""), ()):
                hosts[host] = category
        return cls(source, frozenset(required), entries, hosts, config.get("policy_version"))

    def lookup(self, name: str, host: str = "") -> Optional[Entry]:
        exact = [e for e in self.entries if not e.wildcard and e.matches(name, host)]
        if exact:
            return exact[0]
        prefixes = sorted((e for e in self.entries if e.wildcard and e.matches(name, host)), key=lambda e: -len(e.name))
        return prefixes[0] if prefixes else None


@dataclass(frozen=True)
class Classification:
    category: str
    source: str  # "declaration" | "open-cookie-database" | "cookiegate" | "known tag host" | "none"
    provider: str = ""

    def necessary(self, declaration: Declaration) -> bool:
        return self.category in declaration.required


def classify_name(name: str, host: str, declaration: Declaration) -> Classification:
    """A cookie or storage key: the declaration, then the Open Cookie Database, else unclassified."""
    if name == BANNER_COOKIE or name.startswith(BANNER_STORAGE_PREFIX):
        return Classification(NECESSARY, "cookiegate", "cookiegate")
    declared = declaration.lookup(name, host)
    if declared is not None:
        return Classification(declared.category, declared.source, declared.provider)
    exact, wildcard = open_cookie_database()
    candidates: Iterable[Entry] = exact.get(name, ())
    # An entry naming its domain matches only there ("sessionid" on instagram.com is not yours).
    found = next((e for e in candidates if e.domains and e.matches(name, host)), None)
    found = found or next((e for e in candidates if not e.domains), None)
    if found is None:
        found = next((e for e in wildcard if e.matches(name, host) and e.domains), None)
        found = found or next((e for e in wildcard if not e.domains and e.matches(name, host)), None)
    if found is not None:
        return Classification(found.category, found.source, found.provider)
    return Classification(UNCLASSIFIED, "none")


def classify_host(host: str, declaration: Declaration, service_hosts: Iterable[str] = ()) -> Classification:
    """A request to another host: the cookiegate service itself, declared services, known tag hosts."""
    host = host.lower()
    if host in service_hosts:
        return Classification(NECESSARY, "cookiegate", "cookiegate")
    for domain, category in sorted(declaration.hosts.items(), key=lambda item: -len(item[0])):
        if _under(host, domain):
            return Classification(category, "declaration")
    for domain, category in sorted(TAG_HOSTS.items(), key=lambda item: -len(item[0])):
        if _under(host, domain):
            return Classification(category, "known tag host")
    return Classification(UNCLASSIFIED, "none")
