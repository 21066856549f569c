"""The committed banner files are exactly what `make banner` builds from static/banner/src/ with the
pinned esbuild and terser (package-lock.json): rebuilt into a temporary folder and compared byte for byte."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from .support import ROOT

BUILT = ("cookiegate.js", "settings.js", "choice.js", "consent-default.js", "cookiegate.css")


def test_committed_banner_files_match_a_fresh_build_of_the_source(tmp_path):
    if not (ROOT / "node_modules" / "esbuild").exists() or not (ROOT / "node_modules" / "terser").exists():
        pytest.fail("the banner's build tools are missing: run `make system-deps` (npm ci)")
    node = shutil.which("node")
    assert node, "node is needed (make system-deps installs npm, which brings it)"
    subprocess.run([node, str(ROOT / "static" / "banner" / "build.mjs"), str(tmp_path)], cwd=ROOT, check=True, capture_output=True)
    for name in BUILT:
        fresh = (tmp_path / name).read_bytes()
        committed = (ROOT / "static" / "banner" / name).read_bytes()
        assert fresh == committed, f"static/banner/{name} is not the build of static/banner/src/: run `make banner` and commit"


def test_the_build_pins_its_tools_exactly():
    import json

    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for name, version in package["devDependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned to one version"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
