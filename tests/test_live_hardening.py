"""What a hostile client can send a live gunicorn: forged log lines, broken chunked bodies."""
from __future__ import annotations

import json
import socket

from .support import consent_body, log_containing, wait_until


def raw_request(server, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_path_with_encoded_line_breaks_cannot_forge_an_access_log_line(live_server, live_site):
    forged = '[30/Nov/2026:00:00:00 +0000] "POST /api/v1/sites/x/consents HTTP/1.1" 201 99 1ms'
    encoded = forged.replace(" ", "%20").replace('"', "%22")
    target = f"/api/v1/sites/abc%0D%0A{encoded}%1B[2J/config"
    response = raw_request(live_server, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert response.startswith(b"HTTP/1.1 404")
    log = log_containing(live_server.access_log, "abc\\x0d\\x0a")
    line = next(entry for entry in log.splitlines() if "abc\\x0d\\x0a" in entry)
    assert "\\x1b[2J" in line and "\\x22POST" in line  # escape and quote kept visible, not acted on
    assert not any(entry.startswith("[30/Nov/2026:00:00:00") for entry in log.splitlines())
    assert "\x1b" not in log and "\r" not in log


def test_a_malformed_chunked_body_is_400_invalid_body_without_a_traceback(live_server, live_site):
    origin = live_server.url
    path = f"/api/v1/sites/{live_site.key}/consents"
    body = json.dumps(consent_body()).encode()
    # The server is shared by the session: only what these requests add to its log counts.
    log_before = len(live_server.error_log.read_text(errors="replace")) if live_server.error_log.exists() else 0
    access_before = len(live_server.access_log.read_text(errors="replace")) if live_server.access_log.exists() else 0
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
    bad_size = raw_request(live_server, head + b"zz\r\n" + body + b"\r\n0\r\n\r\n")
    missing_terminator = raw_request(live_server, head + b"%x\r\n" % len(body) + body + b"XX0\r\n\r\n")
    for response in (bad_size, missing_terminator):
        status, _, rest = response.partition(b"\r\n")
        assert status == b"HTTP/1.1 400 BAD REQUEST", response[:200]
        assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "invalid_body"
    # Both answers are in the access log once handled; a traceback would be in the error log by then.
    wait_until(lambda: live_server.access_log.read_text(errors="replace")[access_before:].count(" 400 ") >= 2, message="no access log lines")
    assert "Traceback" not in live_server.error_log.read_text(errors="replace")[log_before:]


def test_an_overlong_url_gets_the_414_the_description_describes(live_server, live_site):
    # gunicorn refuses a request line over 4094 bytes before the app sees it, as a short HTML page.
    import requests

    spec = requests.get(live_server.url + "/api/v1/openapi.json", timeout=10).json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                assert "414" in operation["responses"], (method, path)
    described = spec["paths"]["/api/v1/sites/{site_key}/decision"]["get"]["responses"]["414"]
    response = requests.get(f"{live_server.url}/api/v1/sites/{live_site.key}/decision", params={"token": "x" * 5000}, timeout=10)
    assert response.status_code == 414
    assert response.headers["Content-Type"].split(";")[0] in described["content"]
