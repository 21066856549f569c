"""The size budget (issue 3): script + styles + config in one language, gzip -9, at most 6,000 bytes,
measured on what the live service actually sends. benchmarks/banner_size.py prints the comparison."""
from __future__ import annotations

import gzip

import requests

BUDGET = 6000


def test_script_styles_and_config_fit_the_budget_as_served(shop, live_server):
    total = 0
    for path in ("/banner/v1/cookiegate.js", "/banner/v1/cookiegate.css", f"/api/v1/sites/{shop.key}/config?lang=da"):
        plain = requests.get(live_server.url + path, headers={"Accept-Encoding": "identity"}, timeout=10)
        assert plain.status_code == 200, path
        total += len(gzip.compress(plain.content, compresslevel=9))
    assert total <= BUDGET, f"{total} bytes gzip -9 is over the {BUDGET}-byte budget"


def test_the_served_script_is_minified_and_compressed(live_server):
    raw = requests.get(live_server.url + "/banner/v1/cookiegate.js", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "/*" not in raw.text[:200] and "\n" not in raw.text  # comments and line breaks gone
    assert "window.cookiegate" not in raw.text and "cookiegate=" in raw.text  # names shortened, strings kept
    for encoding in ("br", "gzip"):
        compressed = requests.get(live_server.url + "/banner/v1/cookiegate.js", headers={"Accept-Encoding": encoding}, timeout=10, stream=True)
        assert compressed.headers["Content-Encoding"] == encoding
        assert int(compressed.headers["Content-Length"]) < len(raw.content) / 2
