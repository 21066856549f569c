"""City-level location from a MaxMind-format City database (GeoLite2-City, GeoIP2-City, DB-IP City Lite).

Only three things come out of a lookup: the country's ISO code ("DK"), the
first-level subdivision as a full ISO 3166-2 code ("DK-84") and the city's
English name ("Copenhagen"). Coordinates, postal codes, networks and prefix
lengths are never read out of the record, and the address itself is never
logged, stored or put into an error message.

The database is read with maxminddb (the MaxMind reader geoip2 is built on),
memory-mapped once per process. Its record is a plain dict and only the three
fields are picked out, which keeps a lookup around ten microseconds; geoip2's
model objects would add fifteen more per lookup.

Every `recheck_seconds` (60 by default, `COOKIEGATE_GEOIP_RECHECK` in the app
config) a lookup stats the file; when it was replaced (geoipupdate renames a new
file into place), the new one is opened and used from then on, without a
restart. See docs/geoip.md.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

import maxminddb
from flask import Flask, current_app

log = logging.getLogger(__name__)

EXTENSION = "cookiegate.geoip"
DEFAULT_RECHECK_SECONDS = 60.0
CITY_MAX = 120  # ConsentRecord.city

HOW_TO_ADD = (
    "download GeoLite2-City (free MaxMind account, geoipupdate) or DB-IP City Lite and put the .mmdb file "
    "there, or point COOKIEGATE_GEOIP_DB at it; it is picked up without a restart (see docs/geoip.md)"
)


@dataclass(frozen=True)
class Location:
    country: str = ""  # ISO 3166-1 alpha-2, "DK"
    region: str = ""  # ISO 3166-2 of the first-level subdivision, "DK-84"
    city: str = ""  # English name as the database spells it, "Copenhagen"


def _signature(path: str) -> Optional[tuple[int, int, int]]:
    """What changes when the file is replaced or rewritten; None when there is no file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class _Mapped:
    """An open City database and a descriptor of the very file it maps.

    A file rewritten in place (cp over it) changes under the memory map: lookups
    would read half-written data, and a shorter file makes the process crash
    (SIGBUS) on the pages past its new end. One fstat per lookup (under a
    microsecond) notices it before the map is touched. A file replaced by rename,
    as geoipupdate does, leaves the mapped one intact.
    """

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDONLY)
        try:
            st = os.fstat(self.fd)
            self.inode, self.size, self.mtime = st.st_ino, st.st_size, st.st_mtime_ns
            self.reader = _open(path)
            if _signature(path) != (self.inode, self.size, self.mtime):
                raise ValueError("it changed while being opened")
        except BaseException:
            os.close(self.fd)
            raise

    def intact(self) -> bool:
        st = os.fstat(self.fd)
        return st.st_size == self.size and st.st_mtime_ns == self.mtime

    def __del__(self) -> None:
        # Closed when the last lookup holding it is done, never under one; the map goes with the reader.
        try:
            os.close(self.fd)
        except OSError:
            pass


def _open(path: str) -> maxminddb.Reader:
    try:
        # The C extension maps the file; the pure-Python reader maps it too when the extension is missing.
        reader = maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT)
    except (ImportError, ValueError):
        reader = maxminddb.open_database(path, maxminddb.MODE_MMAP)
    database_type = reader.metadata().database_type
    if "City" not in database_type:
        reader.close()
        raise ValueError(f"it is a {database_type!r} database, not a City database")
    return reader


def _describe(error: Exception) -> str:
    # Opening a file never involves request data, so its error text is safe to show the operator.
    text = str(error).strip() or "unreadable"
    return f"{type(error).__name__}: {text[:200]}"


def _masks(*networks: str) -> tuple[tuple[int, int], ...]:
    return tuple((int(n.netmask), int(n.network_address)) for n in map(ipaddress.ip_network, networks))


# Special-purpose ranges (IANA registries) no public database places: private, shared, loopback,
# link-local, documentation, benchmarking, multicast, reserved. Integer masks, because
# ipaddress's is_global costs more than the database lookup itself.
_LOCAL_V4 = _masks(
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "240.0.0.0/4",
)
_LOCAL_V6 = _masks(
    "::/127", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10",
    "ff00::/8",
)


_MAPPED_V4 = bytes(10) + b"\xff\xff"


def _routable(address: Optional[str]) -> Optional[str]:
    """The address in canonical form if it could be in a public database; None for anything else."""
    if not address:
        return None
    address = address.strip()
    # Some proxies write a port: "[2001:db8::1]:443", "192.0.2.1:443".
    if address.startswith("["):
        address = address[1:].partition("]")[0]
    elif address.count(":") == 1:
        address = address.partition(":")[0]
    # inet_pton rather than ipaddress: strict, and a fraction of the cost.
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        packed = socket.inet_pton(family, address)
    except (OSError, ValueError):
        return None
    if family == socket.AF_INET6 and packed[:12] == _MAPPED_V4:
        # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
        family, packed = socket.AF_INET, packed[12:]
    number = int.from_bytes(packed, "big")
    if any(number & mask == network for mask, network in (_LOCAL_V4 if family == socket.AF_INET else _LOCAL_V6)):
        return None
    return socket.inet_ntop(family, packed)


class GeoDatabase:
    """One process's view of the City database; `locate` never raises."""

    def __init__(self, path: str, recheck_seconds: float = DEFAULT_RECHECK_SECONDS):
        self.path = path
        self.recheck_seconds = recheck_seconds
        self._mapped: Optional[_Mapped] = None
        self._signature: Optional[tuple[int, int, int]] = None
        self._next_check = 0.0
        self._reload_lock = threading.Lock()
        self._lookup_failure_logged = False
        # Set while the mapped file is being overwritten in place: look at every lookup until it is whole.
        self._awaiting_copy = False

    # -- opening and reloading -------------------------------------------------

    def open(self) -> None:
        """At start-up: open the database, or log one line saying why not and how to add one."""
        if not self.path:
            log.warning("GeoIP: no location database configured (COOKIEGATE_GEOIP_DB is empty); "
                        "consents are recorded without location. To add one, %s.", HOW_TO_ADD)
            return
        self._signature = _signature(self.path)
        self._next_check = time.monotonic() + self.recheck_seconds
        if self._signature is None:
            log.warning("GeoIP: no location database at %s; consents are recorded without location. "
                        "To add one, %s.", self.path, HOW_TO_ADD)
            return
        try:
            self._mapped = _Mapped(self.path)
        except Exception as error:  # noqa: BLE001 - any unreadable file means "no location", never a crash
            log.warning("GeoIP: the location database at %s cannot be used (%s); consents are recorded "
                        "without location. To fix it, %s.", self.path, _describe(error), HOW_TO_ADD)
            return
        log.info("GeoIP: using %s", self._summary(self._mapped.reader))

    def _summary(self, reader: maxminddb.Reader) -> str:
        meta = reader.metadata()
        built = time.strftime("%Y-%m-%d", time.gmtime(meta.build_epoch))
        return f"{meta.database_type} built {built} at {self.path}"

    def _maybe_reload(self) -> None:
        if not self.path or (time.monotonic() < self._next_check and not self._awaiting_copy):
            return
        # One thread checks; the others go on with the database they have.
        if not self._reload_lock.acquire(blocking=False):
            return
        try:
            self._next_check = time.monotonic() + self.recheck_seconds
            signature = _signature(self.path)
            if signature == self._signature:
                return
            self._signature = signature
            current = self._mapped
            if signature is None:
                if current is not None:
                    log.warning("GeoIP: the location database at %s was removed; consents are recorded "
                                "without location until one is added.", self.path)
                self._mapped = None
                return
            try:
                mapped = _Mapped(self.path)
            except Exception as error:  # noqa: BLE001
                # A new file beside the mapped one leaves it usable; the mapped file itself rewritten does not.
                if current is not None and current.intact():
                    still = "keeping the previous one"
                else:
                    self._mapped, still = None, "no location until it is fixed"
                if self._awaiting_copy:
                    return  # told once already, and a copy in progress changes at every look
                self._awaiting_copy = still != "keeping the previous one" and current is not None
                log.warning("GeoIP: the location database at %s changed but cannot be used (%s); %s.",
                            self.path, _describe(error), still)
                return
            self._mapped = mapped
            self._lookup_failure_logged = False
            self._awaiting_copy = False
            log.info("GeoIP: now using %s", self._summary(mapped.reader))
        finally:
            self._reload_lock.release()

    def _rewritten_in_place(self, mapped: _Mapped) -> None:
        if self._mapped is not mapped:
            return  # another thread noticed first
        log.warning("GeoIP: the location database at %s was overwritten while in use; no location until it "
                    "is complete. Replace it by renaming a new file into place (see docs/geoip.md).", self.path)
        self._mapped = None
        self._awaiting_copy = True

    # -- questions ---------------------------------------------------------------

    def available(self) -> bool:
        self._maybe_reload()
        mapped = self._mapped
        if mapped is not None and not mapped.intact():
            self._rewritten_in_place(mapped)
            return False
        return mapped is not None

    def locate(self, address: Optional[str]) -> Location:
        self._maybe_reload()
        mapped = self._mapped
        if mapped is None:
            return Location()
        ip = _routable(address)
        if ip is None:
            return Location()
        if not mapped.intact():
            self._rewritten_in_place(mapped)
            return Location()
        try:
            record = mapped.reader.get(ip)
        except Exception as error:  # noqa: BLE001 - a bad record must not cost the visitor their consent
            if not self._lookup_failure_logged:
                # The type only: some of these exceptions name the address.
                log.warning("GeoIP: a lookup failed (%s); that visitor gets no location.", type(error).__name__)
                self._lookup_failure_logged = True
            return Location()
        return _coarse(record) if isinstance(record, dict) else Location()


def _coarse(record: dict[str, Any]) -> Location:
    """Country, first-level subdivision and English city name; nothing else is read out of the record."""
    try:
        country = record["country"]["iso_code"]
    except (KeyError, TypeError):
        return Location()
    if not (isinstance(country, str) and len(country) == 2 and country.isascii() and country.isalpha()):
        return Location()
    country = country.upper()
    region = ""
    try:
        code = record["subdivisions"][0]["iso_code"].upper()
    except (KeyError, IndexError, TypeError, AttributeError):
        code = ""
    if 0 < len(code) <= 3 and code.isascii() and code.isalnum():
        region = f"{country}-{code}"
    try:
        name = record["city"]["names"]["en"]
    except (KeyError, TypeError):
        name = ""
    name = " ".join(name.split())[:CITY_MAX] if isinstance(name, str) else ""
    return Location(country=country, region=region, city=name)


def init_app(app: Flask) -> None:
    geo = GeoDatabase(
        app.config.get("COOKIEGATE_GEOIP_DB") or "",
        float(app.config.get("COOKIEGATE_GEOIP_RECHECK", DEFAULT_RECHECK_SECONDS)),
    )
    geo.open()
    app.extensions[EXTENSION] = geo


def locate(address: Optional[str]) -> Location:
    geo: Optional[GeoDatabase] = current_app.extensions.get(EXTENSION)
    return geo.locate(address) if geo is not None else Location()
