"""The package as pip builds it from pyproject.toml: the same direct dependencies as the pinned
requirements*.txt, every package folder and data file shipped, and the browser driver only in the
`audit` extra (a production install of the service needs no Playwright)."""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .support import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PROJECT["tool"]["setuptools"]


def direct_pins(name: str) -> dict[str, str]:
    """The pinned requirements above a file's "Pulled in by the above" line: name -> version."""
    pins = {}
    for line in (ROOT / name).read_text().split("# Pulled in by the above")[0].splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"{name}: {line} is not pinned"
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def declared(requirements: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, requirements) if canonicalize_name(r.name) != "cookiegate"}


def test_requirements_files_pin_exactly_the_dependencies_pyproject_declares():
    pairs = [
        ("requirements.txt", PROJECT["project"]["dependencies"]),
        ("requirements-audit.txt", PROJECT["project"]["optional-dependencies"]["audit"]),
        ("requirements-dev.txt", PROJECT["project"]["optional-dependencies"]["dev"]),
    ]
    for file, requirements in pairs:
        pins, wanted = direct_pins(file), declared(requirements)
        assert sorted(pins) == sorted(wanted), file
        for name, requirement in wanted.items():
            assert requirement.specifier.contains(pins[name]), f"{file} pins {name} {pins[name]}, pyproject wants {requirement}"


def test_a_production_install_pulls_no_browser_driver():
    service = declared(PROJECT["project"]["dependencies"])
    assert "playwright" not in service and "greenlet" not in service
    assert "playwright" in declared(PROJECT["project"]["optional-dependencies"]["audit"])


def package_folder(package: str) -> Path:
    mapped = SETUPTOOLS.get("package-dir", {})
    return ROOT / mapped.get(package, package.replace(".", "/"))


def test_every_package_folder_is_listed_and_every_listed_one_exists():
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "cookiegate").rglob("__init__.py")}
    listed = set(SETUPTOOLS["packages"])
    assert found <= listed, f"not in pyproject.toml's packages: {sorted(found - listed)}"
    for package in listed:
        assert package_folder(package).is_dir(), package


def test_every_file_the_service_reads_is_package_data():
    """Everything in the package folders that is not Python matches a package-data pattern (as
    setuptools globs them), and so do the mapped migrations and the built banner."""
    patterns = SETUPTOOLS["package-data"]
    shipped, present = set(), set()
    for package in SETUPTOOLS["packages"]:
        folder = package_folder(package)
        for pattern in patterns.get("*", []) + patterns.get(package, []):
            shipped.update(p for p in folder.glob(pattern) if p.is_file())
    for package in SETUPTOOLS["packages"]:
        folder = package_folder(package)
        subpackages = {package_folder(p) for p in SETUPTOOLS["packages"] if p.startswith(package + ".")}
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc") and not any(s in path.parents for s in subpackages):
                present.add(path)
    leaving_out = {ROOT / "static/banner/build.mjs", *(ROOT / "static/banner/src").rglob("*")}
    missing = sorted(str(p.relative_to(ROOT)) for p in present - shipped - leaving_out)
    assert missing == []
    assert {ROOT / "migrations/alembic.ini", ROOT / "static/banner/cookiegate.js", ROOT / "cookiegate/siteaudit/data/trackers.json"} <= shipped


def test_the_audit_without_playwright_says_how_to_install_it(app, monkeypatch):
    monkeypatch.setitem(sys.modules, "playwright", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "playwright.async_api", None)
    result = app.test_cli_runner().invoke(args=["cookiegate", "audit", "http://127.0.0.1:9/"])
    assert result.exit_code == 2
    assert "pip install 'cookiegate[audit]'" in result.output and "Traceback" not in result.output
