"""Test sites for the pre-consent audit: stand-ins for trackers under their real host names, a
site that serves the cookiegate service through its own origin, and servers on addresses the
audit must not reach.

The stand-ins are one HTTPS server on 127.0.0.1 with a self-signed certificate; the audit is
told (`--host-resolver-rules`, which its proxy applies) that static.hotjar.com, www.facebook.com,
… live there, and Chromium is told to accept the certificate. So the audit sees exactly the
URLs, cookie names and storage keys a real site would give it, and nothing leaves this machine.
"""
from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cookiegate audit stand-ins")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "stand-ins.pem", directory / "stand-ins.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_file, key_file


class Recording(BaseHTTPRequestHandler):
    """Answers from `routes` by (host, path), 204 for anything else; notes every request."""

    server_version = "stand-in"

    def _answer(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.hits.append((self.command, host, self.path))
        status, body, headers = self.server.routes.get((host, path), (204, b"", {}))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_OPTIONS = _answer

    def log_message(self, *args):
        pass


class Server:
    """A recording server on `address`, plain or with TLS."""

    def __init__(self, address: str = "127.0.0.1", tls: Optional[tuple[Path, Path]] = None):
        self.httpd = ThreadingHTTPServer((address, 0), Recording)
        self.httpd.daemon_threads = True
        self.httpd.routes, self.httpd.hits = {}, []
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, tls))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.address, self.port = address, self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def hits(self) -> list[tuple[str, str, str]]:
        return self.httpd.hits

    def add(self, host: str, path: str, body: str = "", content_type: str = "application/javascript", status: int = 200, headers=()) -> None:
        self.httpd.routes[(host.lower(), path)] = (status, body.encode("utf-8"), [("Content-Type", content_type), *headers])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class StandIns(Server):
    """Trackers under their real host names (https only, as the real ones are)."""

    def __init__(self, directory: Path):
        super().__init__("127.0.0.1", tls=self_signed(directory))
        self.hosts: set[str] = set()

    def add(self, host: str, path: str, body: str = "", content_type: str = "application/javascript", status: int = 200, headers=()) -> None:
        self.hosts.add(host.lower())
        super().add(host, path, body, content_type, status, headers)

    def serve(self, *hosts: str) -> None:
        """Hosts that answer 204 to everything (beacons, pixels)."""
        self.hosts.update(h.lower() for h in hosts)

    def rules(self) -> list[str]:
        return [f"MAP {host} 127.0.0.1:{self.port}" for host in sorted(self.hosts)]


class ForwardingSite(BaseHTTPRequestHandler):
    """A shop that serves the cookiegate service through its own origin (`/cookiegate/…`, a first-
    party proxy): the config is same-origin, and consents are forwarded with the browser's Origin."""

    def _forward(self) -> None:
        path = self.path
        if not path.startswith("/cookiegate/"):
            body, content_type = self.server.pages.get(urlsplit(path).path, (b"not here", "text/plain"))
            self.send_response(200 if urlsplit(path).path in self.server.pages else 404)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("origin", "content-type", "user-agent", "accept", "idempotency-key")}
        request = urllib.request.Request(self.server.service + path[len("/cookiegate"):], data=data, headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, body, answer_headers = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as error:
            status, body, answer_headers = error.code, error.read(), error.headers
        self.send_response(status)
        for name in ("Content-Type", "Content-Encoding", "ETag", "Cache-Control"):
            if answer_headers.get(name):
                self.send_header(name, answer_headers[name])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _forward

    def log_message(self, *args):
        pass


def forwarding_site(service: str, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer((host, 0), ForwardingSite)
    httpd.daemon_threads = True
    httpd.service, httpd.pages = service, {}
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def local_private_address() -> Optional[str]:
    """An address of this machine that is not loopback (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address
