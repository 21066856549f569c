"""From observations to findings, verdicts and the report (JSON dict and HTML page)."""
from __future__ import annotations

import base64
import datetime as dt
from typing import Any, Iterable, Optional

from jinja2 import Environment, PackageLoader, select_autoescape

from .classify import UNCLASSIFIED, Classification, Declaration, classify_host, classify_name

PASS_TITLES = {
    "no_choice": "Before any choice",
    "rejected": 'After "Reject all"',
    "accepted": 'After "Accept all"',
}
PASS_EXPLAINED = {
    "no_choice": "A new visitor opens the page and does not touch the cookie banner. Only necessary cookies may be set and no tracking may start.",
    "rejected": 'A new visitor clicks "Reject all" and then loads the page again. Only necessary cookies may be set and no tracking may start.',
    "accepted": 'A new visitor clicks "Accept all". Everything the site declares may now run; this pass shows what consent switches on.',
}
KIND_WORDS = {"cookie": "Cookie", "storage": "Stored in the browser", "request": "Sent data to"}


def _finding(kind: str, name: str, host: str, category: str, page: str) -> dict[str, str]:
    return {"kind": kind, "name": name, "host": host, "category": category, "page": page}


def _classified(item: dict[str, Any], found: Classification) -> dict[str, Any]:
    return {**item, "category": found.category, "classified_by": found.source, "provider": found.provider}


def _observed(seen, declaration: Declaration, service_hosts: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    return {
        "cookies": [_classified(c, classify_name(c["name"], c["host"], declaration)) for c in seen.cookies.values()],
        "storage": [_classified(s, classify_name(s["name"], s["host"], declaration)) for s in seen.storage.values()],
        "requests": [_classified(r, classify_host(r["host"], declaration, service_hosts)) for r in seen.requests.values()],
        "tag_requests": seen.tags,
        "iframes": list(seen.iframes.values()),
    }


def findings_of(observed: dict[str, list[dict[str, Any]]], declaration: Declaration) -> list[dict[str, str]]:
    """Everything outside the necessary categories; an unclassified cookie or storage key too,
    an unclassified request not (it is listed under requests; docs/audit.md says why)."""
    required = declaration.required
    found = []
    for cookie in observed["cookies"]:
        if cookie["category"] not in required:
            found.append(_finding("cookie", cookie["name"], cookie["host"], cookie["category"], cookie["page"]))
    for item in observed["storage"]:
        if item["category"] not in required:
            found.append(_finding("storage", item["name"], item["host"], item["category"], item["page"]))
    for request in observed["requests"]:
        if request["category"] not in required and request["category"] != UNCLASSIFIED:
            found.append(_finding("request", request["url"], request["host"], request["category"], request["page"]))
    return found


def _key(finding: dict[str, str]) -> tuple[str, str, str]:
    return (finding["kind"], finding["host"] if finding["kind"] == "request" else finding["name"], finding["host"])


def _pass_report(result, declaration: Declaration, service_hosts: tuple[str, ...]) -> dict[str, Any]:
    observed = _observed(result.seen, declaration, service_hosts)
    findings = findings_of(observed, declaration)
    failed = bool(result.error) or (result.name != "accepted" and bool(findings))
    entry = {
        "name": result.name,
        "verdict": "fail" if failed else "pass",
        "findings": findings,
        "pages": result.pages,
        "observed": observed,
        "screenshots": result.seen.screenshots,
    }
    if result.error:
        entry["error"] = result.error
    if result.page_errors:
        entry["page_errors"] = result.page_errors
    return entry


def _token_check(result, clicked: dict[str, Any], declaration: Declaration, service_hosts: tuple[str, ...]) -> dict[str, Any]:
    entry = _pass_report(result, declaration, service_hosts)
    with_token = {_key(f): f for f in entry["findings"]}
    after_click = {_key(f): f for f in clicked["findings"]}
    entry["same"] = with_token.keys() == after_click.keys() and not entry.get("error")
    entry["only_with_token"] = [with_token[k] for k in with_token.keys() - after_click.keys()]
    entry["only_after_click"] = [after_click[k] for k in after_click.keys() - with_token.keys()]
    # A preset "reject" is a refusal like the click: anything non-necessary fails it.
    entry["verdict"] = "fail" if entry.get("error") or (result.name == "rejected" and entry["findings"]) else "pass"
    return entry


def declaration_diff(declaration: Declaration, passes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    undeclared: dict[tuple[str, str, str], dict[str, str]] = {}
    matched: set[int] = set()
    for entry in passes:
        for kind, items in (("cookie", entry["observed"]["cookies"]), ("storage", entry["observed"]["storage"])):
            for item in items:
                hit = declaration.lookup(item["name"], item["host"])
                if hit is not None:
                    matched.add(id(hit))
                elif item["classified_by"] != "cookiegate":
                    undeclared.setdefault(
                        (kind, item["name"], item["host"]),
                        {"kind": kind, "name": item["name"], "host": item["host"], "category": item["category"]},
                    )
    unseen = [
        {"name": e.name + ("*" if e.wildcard else ""), "category": e.category, "provider": e.provider}
        for e in declaration.entries
        if id(e) not in matched
    ]
    return {"source": declaration.source, "undeclared": sorted(undeclared.values(), key=lambda d: (d["kind"], d["name"])), "unseen": unseen}


def build_report(
    *,
    url: str,
    site_key: Optional[str],
    service: Optional[str],
    agent: str,
    pages: list[str],
    skipped: list[dict[str, str]],
    results: list,
    token_results: list,
    token_error: Optional[str],
    declaration: Declaration,
    warnings: list[str],
    started_at: dt.datetime,
    seconds: float,
) -> dict[str, Any]:
    from urllib.parse import urlsplit

    service_hosts = (urlsplit(service).hostname or "",) if service else ()
    passes = [_pass_report(result, declaration, service_hosts) for result in results]
    by_name = {p["name"]: p for p in passes}
    token_check = [_token_check(r, by_name[r.name], declaration, service_hosts) for r in token_results]
    failed = any(p["verdict"] == "fail" for p in passes) or any(t["verdict"] == "fail" for t in token_check)
    report = {
        "url": url,
        "verdict": "fail" if failed else "pass",
        "passes": passes,
        "declaration": declaration_diff(declaration, passes + token_check),
        "token_check": {"done": bool(token_check), "passes": token_check},
        "site": site_key,
        "service": service,
        "pages": pages,
        "skipped": skipped,
        "warnings": warnings,
        "user_agent": agent,
        "started_at": started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_seconds": round(seconds, 1),
        "tool": "cookiegate audit",
    }
    if token_error:
        report["token_check"]["error"] = token_error
    return report


def leaks(report: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(pass name, finding) for every finding that fails the audit."""
    out = [(p["name"], f) for p in report["passes"] if p["name"] != "accepted" for f in p["findings"]]
    out += [(f"rejected (preset token)", f) for t in report["token_check"]["passes"] if t["name"] == "rejected" for f in t["findings"]]
    return out


def consent_mode(gcs: str) -> str:
    """Google's gcs parameter in words: G1<ad_storage><analytics_storage>, 1 granted, 0 denied."""
    if len(gcs) != 4 or not gcs.startswith("G1"):
        return gcs or "not sent"
    word = {"1": "granted", "0": "denied"}
    return f"ads {word.get(gcs[2], '?')}, analytics {word.get(gcs[3], '?')} ({gcs})"


_env = Environment(loader=PackageLoader("cookiegate.siteaudit", "templates"), autoescape=select_autoescape(["html"]))
_env.filters["consent_mode"] = consent_mode


def render_html(report: dict[str, Any], screenshots: dict[str, bytes]) -> str:
    """One self-contained HTML page (screenshots inline) for the site owner or the DPO."""
    images = {name: "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii") for name, data in screenshots.items()}
    return _env.get_template("audit_report.html").render(
        report=report, images=images, titles=PASS_TITLES, explained=PASS_EXPLAINED, kinds=KIND_WORDS, leaks=leaks(report)
    )
