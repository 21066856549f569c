"""What the audit knows without the site's help: the tracker knowledge base (data/trackers.json)
and the short list of cookies that are strictly necessary by nature (data/necessary.json).

Both are plain, reviewed JSON files with a schema beside them (tests/test_siteaudit_knowledge.py
validates them and checks every fact has a source). The tracker file is meant to be read by
other tools as well (the banner's build step may compile its hosts and URL patterns into a
table), so the matching rules are the ones its schema describes and nothing more:

- a cookie: exact name or prefix on any domain; an `on_vendor_hosts` name only when the cookie's
  domain is one of the tracker's hosts or under one (`uid` means Adform only on adform.net);
- a storage key: exact name or prefix;
- a request: its host is one of the tracker's hosts or under one; or, on any host (first-party
  proxies, server-side tagging), its path equals `path` (or starts with `path_prefix`) and its
  query names every entry of `params`. A URL pattern beats a host (GA4 sent through
  stats.g.doubleclick.net is Google Analytics).
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional
from urllib.parse import parse_qsl, urlsplit

DATA = Path(__file__).parent / "data"
TRACKERS_FILE = DATA / "trackers.json"
NECESSARY_FILE = DATA / "necessary.json"


def under(host: str, domain: str) -> bool:
    host = host.lstrip(".").lower()
    return host == domain or host.endswith("." + domain)


@dataclass(frozen=True)
class RequestPattern:
    path: Optional[str]
    path_prefix: Optional[str]
    params: tuple[str, ...]

    def matches(self, path: str, query_names: frozenset[str]) -> bool:
        if self.path is not None and path != self.path:
            return False
        if self.path_prefix is not None and not path.startswith(self.path_prefix):
            return False
        return all(name in query_names for name in self.params)

    def describe(self) -> str:
        where = self.path if self.path is not None else self.path_prefix + "…"
        return where + ("?" + "&".join(self.params) if self.params else "")


@dataclass(frozen=True)
class Tracker:
    id: str
    vendor: str
    product: str
    category: str
    purpose: dict[str, str]
    sources: dict[str, tuple[str, ...]]
    cookies: frozenset[str]
    cookie_prefixes: tuple[str, ...]
    vendor_cookies: frozenset[str]
    storage: frozenset[str]
    storage_prefixes: tuple[str, ...]
    hosts: tuple[str, ...]
    requests: tuple[RequestPattern, ...]

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> "Tracker":
        return cls(
            id=entry["id"],
            vendor=entry["vendor"],
            product=entry["product"],
            category=entry["category"],
            purpose=dict(entry["purpose"]),
            sources={k: tuple(v) for k, v in entry["sources"].items()},
            cookies=frozenset(entry["cookies"]["exact"]),
            cookie_prefixes=tuple(entry["cookies"]["prefixes"]),
            vendor_cookies=frozenset(entry["cookies"]["on_vendor_hosts"]),
            storage=frozenset(entry["storage"]["exact"]),
            storage_prefixes=tuple(entry["storage"]["prefixes"]),
            hosts=tuple(entry["hosts"]),
            requests=tuple(RequestPattern(r.get("path"), r.get("path_prefix"), tuple(r.get("params", ()))) for r in entry["requests"]),
        )

    def on_own_host(self, host: str) -> bool:
        return any(under(host, h) for h in self.hosts)


@dataclass(frozen=True)
class Match:
    tracker: Tracker
    how: str  # what matched, for the report: "cookie name", "cookie prefix _hj", "host clarity.ms", "URL pattern /g/collect?v&tid"


class KnowledgeBase:
    def __init__(self, trackers: Iterable[Tracker]):
        self.trackers = tuple(trackers)
        self._cookies = {name: t for t in self.trackers for name in t.cookies}
        self._cookie_prefixes = sorted(((p, t) for t in self.trackers for p in t.cookie_prefixes), key=lambda pt: -len(pt[0]))
        self._storage = {name: t for t in self.trackers for name in t.storage}
        self._storage_prefixes = sorted(((p, t) for t in self.trackers for p in t.storage_prefixes), key=lambda pt: -len(pt[0]))
        self._hosts = sorted(((h, t) for t in self.trackers for h in t.hosts), key=lambda ht: -len(ht[0]))
        self._patterns = [(p, t) for t in self.trackers for p in t.requests]

    def cookie(self, name: str, domain: str = "") -> Optional[Match]:
        if name in self._cookies:
            return Match(self._cookies[name], "cookie name")
        for tracker in self.trackers:
            if name in tracker.vendor_cookies and domain and tracker.on_own_host(domain):
                return Match(tracker, f"cookie name on {domain}")
        return self._prefixed(name, self._cookie_prefixes, "cookie")

    def storage(self, name: str) -> Optional[Match]:
        if name in self._storage:
            return Match(self._storage[name], "storage key")
        return self._prefixed(name, self._storage_prefixes, "storage key")

    @staticmethod
    def _prefixed(name: str, prefixes, what: str) -> Optional[Match]:
        for prefix, tracker in prefixes:
            if name.startswith(prefix):
                return Match(tracker, f"{what} prefix {prefix}")
        return None

    def host(self, host: str) -> Optional[Match]:
        for domain, tracker in self._hosts:
            if under(host, domain):
                return Match(tracker, f"host {domain}")
        return None

    def request(self, url: str) -> Optional[Match]:
        parts = urlsplit(url)
        names = frozenset(name for name, _ in parse_qsl(parts.query, keep_blank_values=True))
        for pattern, tracker in self._patterns:
            if pattern.matches(parts.path, names):
                return Match(tracker, f"URL pattern {pattern.describe()}")
        return self.host((parts.hostname or "").lower())

    def by_id(self, tracker_id: str) -> Tracker:
        return next(t for t in self.trackers if t.id == tracker_id)


@dataclass(frozen=True)
class NecessaryEntry:
    id: str
    kind: str
    reason: dict[str, str]
    sources: tuple[str, ...]
    cookies: frozenset[str]
    cookie_prefixes: tuple[str, ...]
    storage: frozenset[str]
    storage_prefixes: tuple[str, ...]


class NecessaryList:
    def __init__(self, entries: Iterable[NecessaryEntry]):
        self.entries = tuple(entries)

    def cookie(self, name: str) -> Optional[NecessaryEntry]:
        return next((e for e in self.entries if name in e.cookies or name.startswith(e.cookie_prefixes)), None)

    def storage(self, name: str) -> Optional[NecessaryEntry]:
        return next((e for e in self.entries if name in e.storage or name.startswith(e.storage_prefixes)), None)


@functools.cache
def trackers() -> KnowledgeBase:
    data = json.loads(TRACKERS_FILE.read_text(encoding="utf-8"))
    return KnowledgeBase(Tracker.from_json(entry) for entry in data["trackers"])


@functools.cache
def necessary() -> NecessaryList:
    data = json.loads(NECESSARY_FILE.read_text(encoding="utf-8"))
    return NecessaryList(
        NecessaryEntry(
            id=e["id"],
            kind=e["kind"],
            reason=dict(e["reason"]),
            sources=tuple(e["sources"]),
            cookies=frozenset(e["cookies"]["exact"]),
            cookie_prefixes=tuple(e["cookies"]["prefixes"]),
            storage=frozenset(e["storage"]["exact"]),
            storage_prefixes=tuple(e["storage"]["prefixes"]),
        )
        for e in data["entries"]
    )
