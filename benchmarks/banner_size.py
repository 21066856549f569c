#!/usr/bin/env python3
"""What a first-time visitor downloads from the service, beside four other consent banners.

    .venv/bin/python benchmarks/banner_size.py

cookiegate: the first view, i.e. what a first-time visitor downloads before answering: the built
script (its styles inside) exactly as /banner/v1/ serves it, and the first layer's config of a site
with two languages (da, en), Google Analytics and the Meta pixel, as
/api/v1/sites/<key>/config?lang=..&layer=first serves it; measured through the app on a temporary
SQLite database. Opening the settings adds settings.js and the whole config (printed too). The others are fetched from npm at run time (`npm pack`) into a temporary folder that
is removed afterwards: the files a page loads for a banner with its styles and one language.
Each file is compressed on its own (gzip -9, brotli 11), as each is a download of its own.
Budget (issue 15): script + styles + config (one language) at most 5,500 bytes gzip -9.
"""
from __future__ import annotations

import gzip
import logging
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import brotli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cookiegate import create_app  # noqa: E402
from cookiegate.extensions import db  # noqa: E402
from cookiegate.sites.site import create_site  # noqa: E402

BUDGET = 5500
COMPETITORS = {
    "vanilla-cookieconsent 3.1.0": ("vanilla-cookieconsent@3.1.0", ["dist/cookieconsent.umd.js", "dist/cookieconsent.css"]),
    "Osano cookieconsent 3.1.1": ("cookieconsent@3.1.1", ["build/cookieconsent.min.js", "build/cookieconsent.min.css"]),
    "tarteaucitron 1.34.0": (
        "tarteaucitronjs@1.34.0",
        ["tarteaucitron.min.js", "lang/tarteaucitron.en.min.js", "css/tarteaucitron.min.css"],
    ),
    "Klaro 0.7.22": ("klaro@0.7.22", ["dist/klaro.js"]),  # styles and translations built in
}


def sizes(data: bytes) -> tuple[int, int, int]:
    return len(data), len(gzip.compress(data, compresslevel=9, mtime=0)), len(brotli.compress(data, quality=11))


def ours(workdir: Path) -> dict[str, bytes]:
    logging.disable(logging.WARNING)
    app = create_app(
        {
            "INSTANCE_PATH": str(workdir),
            "COOKIEGATE_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/bench.db",
            "COOKIEGATE_SECRET_KEYS": ["benchmark-" + "k" * 40],
            "COOKIEGATE_GEOIP_DB": str(workdir / "none.mmdb"),
            "TESTING": True,
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        site = create_site(
            "Fjordkaffe ApS",
            ["https://www.fjordkaffe.dk"],
            ga="G-ABCDEF1234",
            fb="1234567890123",
            languages=["da", "en"],
            privacy_policy_url="https://www.fjordkaffe.dk/privatlivspolitik",
        )
        db.session.commit()
        client = app.test_client()
        files = {}
        for name in ("cookiegate.js", "choice.js", "settings.js"):
            response = client.get(f"/banner/v1/{name}")
            assert response.status_code == 200, name
            files[name] = response.data
        for lang in ("da", "en"):
            response = client.get(f"/api/v1/sites/{site.key}/config?lang={lang}&layer=first")
            assert response.status_code == 200
            files[f"first-layer config ({lang})"] = response.data
            files[f"whole config ({lang}, settings)"] = client.get(f"/api/v1/sites/{site.key}/config?lang={lang}").data
    return files


def competitor(tmp: Path, spec: str, paths: list[str]) -> dict[str, bytes]:
    target = tmp / spec.split("@")[0]
    target.mkdir()
    subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(target), spec], check=True, capture_output=True)
    (tarball,) = target.glob("*.tgz")
    with tarfile.open(tarball) as archive:
        return {path: archive.extractfile(f"package/{path}").read() for path in paths}


def row(label: str, raw: int, gz: int, br: int, reference: int | None = None) -> str:
    ratio = f"{gz / reference:6.1f}x" if reference else ""
    return f"  {label:<44} {raw:>9,} {gz:>9,} {br:>9,}  {ratio}"


def main() -> int:
    header = f"  {'':<44} {'raw':>9} {'gzip -9':>9} {'brotli':>9}"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        files = ours(tmp_path)
        print("cookiegate, as served to a first-time visitor")
        print(header)
        for name, data in files.items():
            print(row(name, *sizes(data)))
        totals = {}
        for lang in ("da", "en"):
            parts = [files["cookiegate.js"], files[f"first-layer config ({lang})"]]
            totals[lang] = [sum(x) for x in zip(*(sizes(p) for p in parts))]
            print(row(f"first view: script + styles + config ({lang})", *totals[lang]))
        ours_gzip = max(t[1] for t in totals.values())
        print()
        print(f"Others, from npm (JS + CSS + one language); ratio = their gzip / cookiegate's {ours_gzip:,}")
        print(header)
        smallest = None
        for label, (spec, paths) in COMPETITORS.items():
            try:
                theirs = competitor(tmp_path, spec, paths)
            except (subprocess.CalledProcessError, FileNotFoundError, KeyError) as error:
                print(f"  {label:<44} could not be fetched from npm: {error}")
                continue
            total = [sum(x) for x in zip(*(sizes(d) for d in theirs.values()))]
            smallest = total[1] if smallest is None else min(smallest, total[1])
            print(row(label, *total, reference=ours_gzip))
            for path, data in theirs.items():
                print(row("  " + path, *sizes(data)))
    print()
    verdict = "PASS" if ours_gzip <= BUDGET else "FAIL"
    print(f"Budget: {ours_gzip:,} of {BUDGET:,} bytes gzip -9 (script + styles + config, one language): {verdict}")
    if smallest is not None:
        print(f"Smallest other banner: {smallest:,} bytes gzip -9, {smallest / ours_gzip:.1f} times cookiegate's")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
