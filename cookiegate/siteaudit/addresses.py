"""Which addresses the audit may reach: the page under audit must not steer it to this machine,
the office network or a cloud metadata service (docs/audit.md, "What the page cannot make the
audit do").

Every address falls in one class: public, private (RFC 1918, carrier-grade NAT, unique local,
documentation ranges), loopback (and 0.0.0.0), link-local (169.254/16 with the cloud metadata
services, fe80::/10) or reserved (multicast, the rest). Public addresses are always allowed; a
non-public class only when the audited URL itself resolves to an address of that class (an
intranet site may load from the intranet, never from the audit's own machine).

Names resolve as Chromium would resolve them for the audit: `--host-resolver-rules` MAP and
EXCLUDE rules given to the audit first (the audit's proxy applies them, since Chromium itself
does not resolve names it sends to a proxy), then the system resolver.
"""
from __future__ import annotations

import asyncio
import fnmatch
import ipaddress
import socket
from dataclasses import dataclass, field
from typing import Iterable, Optional

PUBLIC, PRIVATE, LOOPBACK, LINK_LOCAL, RESERVED = "public", "private", "loopback", "link-local", "reserved"
RULES_FLAG = "--host-resolver-rules="
RESOLVE_SECONDS = 5.0


class NotResolved(Exception):
    """The name has no address (or a rule maps it to ~NOTFOUND)."""


def address_class(address: str) -> str:
    ip = ipaddress.ip_address(address.strip("[]"))
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return LOOPBACK  # 0.0.0.0 connects to this machine as well
    if ip.is_link_local:
        return LINK_LOCAL
    if ip.is_multicast or ip.is_reserved:
        return RESERVED
    if ip.is_global:
        return PUBLIC
    return PRIVATE


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class MapRule:
    pattern: str
    target: Optional[str]  # None: ~NOTFOUND
    port: Optional[int] = None


def _split_host_port(text: str) -> tuple[str, Optional[int]]:
    if text.startswith("["):  # [::1]:8080
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, None


def parse_rules(text: str) -> tuple[list[MapRule], list[str]]:
    """Chromium's `--host-resolver-rules` syntax: comma-separated `MAP pattern target[:port]`
    (target `~NOTFOUND` fails the name) and `EXCLUDE pattern`; patterns may use `*`."""
    rules: list[MapRule] = []
    excluded: list[str] = []
    for part in text.split(","):
        words = part.split()
        if len(words) == 3 and words[0].upper() == "MAP":
            if words[2].upper() == "~NOTFOUND":
                rules.append(MapRule(words[1].lower(), None))
            else:
                host, port = _split_host_port(words[2])
                rules.append(MapRule(words[1].lower(), host.lower(), port))
        elif len(words) == 2 and words[0].upper() == "EXCLUDE":
            excluded.append(words[1].lower())
        elif words:
            raise ValueError(f"not a host resolver rule: {part.strip()!r}")
    return rules, excluded


def split_chromium_args(args: Iterable[str]) -> tuple[list[str], str]:
    """(the flags Chromium gets, the host resolver rules the audit's proxy applies)."""
    kept, rules = [], []
    for arg in args:
        if arg.startswith(RULES_FLAG):
            rules.append(arg[len(RULES_FLAG):].strip("\"'"))
        else:
            kept.append(arg)
    return kept, ",".join(rules)


@dataclass
class Resolver:
    """Name -> addresses as the audit's browser would get them; the answer for a name is kept for
    the audit's lifetime, so a name cannot be public when checked and private when connected."""

    rules: list[MapRule] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    _cache: dict[tuple[str, int], tuple[list[str], int]] = field(default_factory=dict)

    @classmethod
    def from_rules(cls, text: str) -> "Resolver":
        rules, excluded = parse_rules(text) if text.strip() else ([], [])
        return cls(rules, excluded)

    def _mapped(self, host: str) -> Optional[MapRule]:
        if any(fnmatch.fnmatchcase(host, pattern) for pattern in self.excluded):
            return None
        return next((rule for rule in self.rules if fnmatch.fnmatchcase(host, rule.pattern)), None)

    async def resolve(self, host: str, port: int) -> tuple[list[str], int]:
        host = host.lower().strip("[]").rstrip(".")
        key = (host, port)
        if key not in self._cache:
            self._cache[key] = await self._resolve(host, port)
        return self._cache[key]

    async def _resolve(self, host: str, port: int) -> tuple[list[str], int]:
        if is_ip(host):
            return [host], port
        rule = self._mapped(host)
        if rule is not None:
            if rule.target is None:
                raise NotResolved(f"{host} is mapped to ~NOTFOUND")
            host, port = rule.target, rule.port or port
            if is_ip(host):
                return [host], port
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_SECONDS)
        except (OSError, asyncio.TimeoutError) as error:
            raise NotResolved(f"{host} did not resolve ({type(error).__name__})") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not addresses:
            raise NotResolved(f"{host} has no address")
        return addresses, port


@dataclass(frozen=True)
class AddressPolicy:
    """The classes of address the audit may connect to."""

    allowed: frozenset[str] = frozenset({PUBLIC})
    audited_class: str = PUBLIC

    @classmethod
    def for_audited(cls, audited_addresses: Iterable[str]) -> "AddressPolicy":
        classes = {address_class(a) for a in audited_addresses}
        # A name with addresses of several classes counts as the least public of them.
        for kind in (LOOPBACK, LINK_LOCAL, PRIVATE, RESERVED, PUBLIC):
            if kind in classes:
                return cls(frozenset({PUBLIC, kind}), kind)
        return cls()

    def refusal(self, addresses: Iterable[str]) -> Optional[str]:
        """Why these addresses may not be reached (every one must be allowed), or None."""
        for address in addresses:
            kind = address_class(address)
            if kind not in self.allowed:
                return f"{address} is a {kind} address (the audited site is {self.audited_class})"
        return None
