"""From observations to findings, verdicts and the report (JSON dict, and an HTML page in Danish
or English).

A finding is anything outside the necessary categories seen before a choice or after "Reject
all" (per pass, as docs/audit.md shows it); `findings` at the top of the report counts each of them
once, with the passes it appeared in, its purpose, who says so, the evidence and how to fix it.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Iterable, Optional

from jinja2 import Environment, PackageLoader, select_autoescape

from .classify import (
    BY_COOKIEGATE,
    BY_DECLARATION,
    BY_KNOWLEDGE_BASE,
    BY_OCD,
    FUNCTIONAL,
    NECESSARY,
    UNCLASSIFIED,
    Classification,
    Declaration,
    classify_cookie,
    classify_request,
    classify_storage,
)
from .knowledge import NECESSARY_FILE, TRACKERS_FILE

PASS_NAMES = ("no_choice", "rejected", "accepted")
LEAK_PASSES = ("no_choice", "rejected", "rejected_token")  # where a finding fails the audit
LANGUAGES = ("da", "en")
TEXTS = {lang: json.loads((Path(__file__).parent / "texts" / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}
UNKNOWN_PURPOSE = {
    "en": "Not known: neither the site's declaration, the reviewed list of strictly necessary cookies, the tracker knowledge base nor the Open Cookie Database names it. Nobody has said it is necessary.",
    "da": "Ukendt: hverken webstedets deklaration, den gennemgåede liste over strengt nødvendige cookies, trackerlisten eller Open Cookie Database kender den. Ingen har sagt, at den er nødvendig.",
}
FUNCTIONAL_NOTE = {
    "en": " The Open Cookie Database calls it Functional, which is not the same as strictly necessary.",
    "da": " Open Cookie Database kalder den funktionel, hvilket ikke er det samme som strengt nødvendig.",
}


def _site_party(host: str, site_domain: str) -> str:
    host = host.lstrip(".").lower()
    return "first" if host == site_domain or host.endswith("." + site_domain) else "third"


def _described(item: dict[str, Any], found: Classification) -> dict[str, Any]:
    return {
        **item,
        "category": found.category,
        "classified_by": found.source,
        "provider": found.provider,
        "purpose": found.purpose or (UNKNOWN_PURPOSE if found.category == UNCLASSIFIED else None),
        "tracker": found.tracker,
        "matched": found.matched,
        "note": found.note,
    }


def _refusal_reason(write: dict[str, Any], site_domain: str) -> str:
    if write.get("refused"):
        return "refused by the browser when the script wrote it"
    if write["how"] == "http" and _site_party(write["host"], site_domain) == "third":
        return "a third-party cookie: refused by the browser (Chromium blocks third-party cookies in a fresh profile)"
    return "not in the browser's cookie jar when the page was read (refused, or removed again by the page)"


def observed_of(seen, declaration: Declaration, service_hosts: tuple[str, ...], site_domain: str) -> dict[str, list[dict[str, Any]]]:
    cookies = []
    for cookie in seen.cookies.values():
        party = _site_party(cookie["host"], site_domain)
        cookies.append(_described({**cookie, "party": party}, classify_cookie(cookie["name"], cookie["host"], declaration, party == "first")))
    storage = []
    for item in seen.storage.values():
        party = _site_party(item["host"], site_domain)
        storage.append(_described({**item, "party": party}, classify_storage(item["name"], item["host"], declaration, party == "first")))
    requests = [
        _described({**group, "party": _site_party(group["host"], site_domain)}, classify_request(group["samples"][0] if group["samples"] else group["url"], declaration, service_hosts))
        for group in seen.requests.values()
    ]
    refused = [
        {"name": w["name"], "host": w["host"], "page": w["page"], "how": w["how"], "set_by": w["set_by"], "reason": _refusal_reason(w, site_domain)}
        for w in seen.refused()
    ]
    return {
        "cookies": cookies,
        "refused_cookies": refused,
        "storage": storage,
        "requests": requests,
        "tag_requests": seen.tags,
        "iframes": list(seen.iframes.values()),
    }


def how_to_fix(kind: str, item: dict[str, Any]) -> dict[str, str]:
    """One line per language: what the site owner does about this finding."""
    category = item["category"]
    hold = category if category in ("statistics", "marketing", "preferences") else "preferences"
    where = item.get("set_by") or ""
    known = item["classified_by"] == BY_KNOWLEDGE_BASE
    # "LinkedIn: LinkedIn Insight Tag" reads as its product.
    product = (item.get("provider") or "").split(": ", 1)[-1] or item.get("host", "")
    if kind == "request":
        en = (f'Load {product} only after consent: mark its script <script type="text/plain" data-cookiegate="{hold}" …> '
              f'(an iframe: data-cookiegate="{hold}" data-src="…"), or add it as a service in the console; cookiegate releases it after consent.')
        da = (f'Indlæs {product} først efter samtykke: mærk scriptet <script type="text/plain" data-cookiegate="{hold}" …> '
              f'(en iframe: data-cookiegate="{hold}" data-src="…"), eller tilføj det som tjeneste i konsollen; cookiegate frigiver det efter samtykke.')
        if item.get("party") == "first":
            en += " It goes to the site's own host (a first-party proxy or server-side tag): it must wait for consent as well."
            da += " Den går til webstedets egen vært (en proxy eller et server-side tag på eget domæne): den skal også vente på samtykke."
        return {"en": en, "da": da}
    what_en, what_da = ("cookie", "cookien") if kind == "cookie" else ("storage key", "nøglen")
    by_en = f" (set by: {where})" if where else ""
    by_da = f" (sat af: {where})" if where else ""
    if known:
        en = f'Hold back {product} until consent: mark the script that sets this {what_en}{by_en} with data-cookiegate="{hold}" (type="text/plain"), or add it as a service in the console.'
        da = f'Hold {product} tilbage til samtykke: mærk scriptet, der sætter {what_da}{by_da}, med data-cookiegate="{hold}" (type="text/plain"), eller tilføj det som tjeneste i konsollen.'
        if item.get("note"):
            en += " Take it out of the necessary category in the console: it is not strictly necessary."
            da += " Flyt den ud af kategorien nødvendige i konsollen: den er ikke strengt nødvendig."
        return {"en": en, "da": da}
    if item["classified_by"] == BY_DECLARATION:
        return {
            "en": f'The site declares it as {category}, yet it is set before consent: hold back the script that sets it{by_en} with data-cookiegate="{hold}".',
            "da": f'Webstedet deklarerer den som {category}, men den sættes før samtykke: hold scriptet, der sætter den{by_da}, tilbage med data-cookiegate="{hold}".',
        }
    if category in (FUNCTIONAL, UNCLASSIFIED):
        en = (f"If this {what_en} is strictly necessary for something the visitor asked for, declare it in the console under 'necessary' and say why; "
              f'otherwise hold back the script that sets it{by_en} with data-cookiegate="{hold}".')
        da = (f"Hvis {what_da} er strengt nødvendig for noget, besøgende har bedt om, så deklarér den i konsollen under 'nødvendige' og skriv hvorfor; "
              f'ellers hold scriptet, der sætter den{by_da}, tilbage med data-cookiegate="{hold}".')
        return {"en": en, "da": da}
    return {
        "en": f'Hold back the script that sets it{by_en} with data-cookiegate="{hold}" and declare it in the console.',
        "da": f'Hold scriptet, der sætter den{by_da}, tilbage med data-cookiegate="{hold}", og deklarér den i konsollen.',
    }


def _purpose(item: dict[str, Any]) -> Optional[dict[str, str]]:
    purpose = item.get("purpose") or (UNKNOWN_PURPOSE if item["category"] == UNCLASSIFIED else None)
    if purpose and item["category"] == FUNCTIONAL and item["classified_by"] == BY_OCD:
        return {lang: purpose[lang] + FUNCTIONAL_NOTE[lang] for lang in LANGUAGES}
    return purpose


def _finding(kind: str, item: dict[str, Any], name: str) -> dict[str, Any]:
    finding = {
        "kind": kind,
        "name": name,
        "host": item["host"],
        "category": item["category"],
        "page": item["page"],
        "purpose": _purpose(item),
        "provider": item.get("provider", ""),
        "classified_by": item["classified_by"],
        "tracker": item.get("tracker", ""),
        "note": item.get("note", ""),
        "party": item.get("party", ""),
        "how_to_fix": how_to_fix(kind, item),
    }
    if kind == "request":
        finding.update(count=item["count"], beacons=item["beacons"], pixels=item["pixels"], matched=item.get("matched", ""))
    return finding


def findings_of(observed: dict[str, list[dict[str, Any]]], declaration: Declaration) -> list[dict[str, Any]]:
    """Everything outside the necessary categories: cookies in the jar, storage keys, and requests
    a tracker or the site's declaration explains (an unknown host is listed, not a finding)."""

    def needs_consent(item) -> bool:
        found = Classification(item["category"], item["classified_by"])
        return not found.necessary(declaration)

    found = [_finding("cookie", c, c["name"]) for c in observed["cookies"] if needs_consent(c)]
    found += [_finding("storage", s, s["name"]) for s in observed["storage"] if needs_consent(s)]
    found += [_finding("request", r, r["url"]) for r in observed["requests"] if r["category"] != UNCLASSIFIED and needs_consent(r)]
    return found


def _key(finding: dict[str, Any]) -> tuple[str, str, str]:
    return (finding["kind"], finding["name"], finding["host"])


def _pass_report(result, declaration: Declaration, service_hosts: tuple[str, ...], site_domain: str) -> dict[str, Any]:
    observed = observed_of(result.seen, declaration, service_hosts, site_domain)
    findings = findings_of(observed, declaration)
    failed = bool(result.error) or (result.name != "accepted" and bool(findings))
    entry = {
        "name": result.name,
        "verdict": "fail" if failed else "pass",
        "findings": findings,
        "pages": result.pages,
        "observed": observed,
        "screenshots": result.seen.screenshots,
        "blocked": result.seen.blocked,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "timing": {"start": result.timing[0], "end": result.timing[1]},
    }
    if result.choice is not None:
        entry["choice"] = result.choice
    if result.error:
        entry["error"] = result.error
    if result.page_errors:
        entry["page_errors"] = result.page_errors
    return entry


def _token_check(result, clicked: dict[str, Any], declaration: Declaration, service_hosts: tuple[str, ...], site_domain: str) -> dict[str, Any]:
    entry = _pass_report(result, declaration, service_hosts, site_domain)
    with_token = {_key(f): f for f in entry["findings"]}
    after_click = {_key(f): f for f in clicked["findings"]}
    entry["same"] = with_token.keys() == after_click.keys() and not entry.get("error")
    entry["only_with_token"] = [with_token[k] for k in with_token.keys() - after_click.keys()]
    entry["only_after_click"] = [after_click[k] for k in after_click.keys() - with_token.keys()]
    # A preset "reject" is a refusal like the click: anything non-necessary fails it.
    entry["verdict"] = "fail" if entry.get("error") or (result.name == "rejected" and entry["findings"]) else "pass"
    return entry


def _evidence(kind: str, finding: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    if kind == "cookie":
        item = next((c for c in observed["cookies"] if c["name"] == finding["name"] and c["host"] == finding["host"]), {})
        fields = ("domain", "path", "expires", "lifetime_seconds", "secure", "http_only", "same_site", "party", "how", "set_by")
    elif kind == "storage":
        item = next((s for s in observed["storage"] if s["name"] == finding["name"] and s["host"] == finding["host"]), {})
        fields = ("area", "party")
    else:
        item = next((r for r in observed["requests"] if r["url"] == finding["name"]), {})
        fields = ("count", "beacons", "pixels", "types", "methods", "samples", "party", "matched")
    return {name: item.get(name) for name in fields}


def distinct_findings(passes: list[dict[str, Any]], token_checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each finding that fails the audit once, with the passes it appeared in."""
    named = [(p["name"], p) for p in passes if p["name"] in LEAK_PASSES]
    named += [("rejected_token", t) for t in token_checks if t["name"] == "rejected"]
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for pass_name, entry in named:
        for finding in entry["findings"]:
            key = _key(finding)
            if key not in out:
                out[key] = {**finding, "passes": [], "pages": [], "evidence": _evidence(finding["kind"], finding, entry["observed"])}
                del out[key]["page"]
            merged = out[key]
            if pass_name not in merged["passes"]:
                merged["passes"].append(pass_name)
            if finding["page"] not in merged["pages"]:
                merged["pages"].append(finding["page"])
    order = {"cookie": 0, "storage": 1, "request": 2}
    return sorted(out.values(), key=lambda f: (order[f["kind"]], f["category"], f["name"]))


def declaration_diff(declaration: Declaration, passes: Iterable[dict[str, Any]]) -> dict[str, Any]:
    undeclared: dict[tuple[str, str, str], dict[str, str]] = {}
    matched: set[int] = set()
    for entry in passes:
        for kind, items in (("cookie", entry["observed"]["cookies"]), ("storage", entry["observed"]["storage"])):
            for item in items:
                hit = declaration.lookup(item["name"], item["host"])
                if hit is not None:
                    matched.add(id(hit))
                elif item["classified_by"] != BY_COOKIEGATE:
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


def _reviewed(path: Path) -> str:
    return json.loads(path.read_text(encoding="utf-8"))["reviewed"]


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
    started_at: str,
    finished_at: str,
    seconds: float,
    environment: dict[str, Any],
    site_domain: str,
) -> dict[str, Any]:
    from urllib.parse import urlsplit

    service_hosts = (urlsplit(service).hostname or "",) if service else ()
    passes = [_pass_report(result, declaration, service_hosts, site_domain) for result in results]
    by_name = {p["name"]: p for p in passes}
    token_check = [_token_check(r, by_name[r.name], declaration, service_hosts, site_domain) for r in token_results]
    failed = any(p["verdict"] == "fail" for p in passes) or any(t["verdict"] == "fail" for t in token_check)
    distinct = distinct_findings(passes, token_check)
    blocked = [b for p in passes + token_check for b in p["blocked"]]
    if blocked:
        warnings = [*warnings, f"the page tried to make the audit's browser reach {len({b['target'] for b in blocked})} address(es) it may not reach (listed under each check); they were blocked"]
    report = {
        "url": url,
        "verdict": "fail" if failed else "pass",
        "summary": {
            "distinct_findings": len(distinct),
            "by_pass": {name: sum(name in f["passes"] for f in distinct) for name in LEAK_PASSES},
        },
        "findings": distinct,
        "passes": passes,
        "declaration": declaration_diff(declaration, passes + token_check),
        "token_check": {"done": bool(token_check), "passes": token_check},
        "site": site_key,
        "service": service,
        "pages": pages,
        "skipped": skipped,
        "warnings": warnings,
        "user_agent": agent,
        "started_at": started_at,
        "finished_at": finished_at,
        "duration_seconds": round(seconds, 1),
        "tool": "cookiegate audit",
        "environment": {
            **environment,
            "knowledge_base": {"trackers_reviewed": _reviewed(TRACKERS_FILE), "necessary_reviewed": _reviewed(NECESSARY_FILE)},
        },
    }
    if token_error:
        report["token_check"]["error"] = token_error
    return report


def leaks(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(pass name, finding) for every finding that fails the audit."""
    out = [(p["name"], f) for p in report["passes"] if p["name"] != "accepted" for f in p["findings"]]
    out += [("rejected (preset token)", f) for t in report["token_check"]["passes"] if t["name"] == "rejected" for f in t["findings"]]
    return out


def consent_mode(gcs: str) -> str:
    """Google's gcs parameter in words: G1<ad_storage><analytics_storage>, 1 granted, 0 denied."""
    if len(gcs) != 4 or not gcs.startswith("G1"):
        return gcs or "not sent"
    word = {"1": "granted", "0": "denied"}
    return f"ads {word.get(gcs[2], '?')}, analytics {word.get(gcs[3], '?')} ({gcs})"


def lifetime_words(seconds: Optional[int], lang: str) -> str:
    """A cookie's lifetime for people: "session", "13 months", "2 days"."""
    t = TEXTS[lang]["lifetime"]
    if seconds is None:
        return t["session"]
    for unit, size in (("years", 365 * 86400), ("months", 30 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size * (2 if unit == "years" else 1) or unit == "minutes":
            amount = max(1, round(seconds / size))
            return t[unit].format(n=amount)
    return t["minutes"].format(n=1)


_env = Environment(loader=PackageLoader("cookiegate.siteaudit", "templates"), autoescape=select_autoescape(["html"]))
_env.filters["consent_mode"] = consent_mode


def render_html(report: dict[str, Any], screenshots: dict[str, bytes], lang: str = "da") -> str:
    """One self-contained HTML page (screenshots inline) for the site owner or the DPO, in Danish or English."""
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    images = {name: "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii") for name, data in screenshots.items()}
    texts = TEXTS[lang]

    def text(value: Any) -> str:
        """A {en, da} text from the report (or a plain one, as older reports have)."""
        if isinstance(value, dict):
            return str(value.get(lang) or value.get("en") or "")
        return "" if value is None else str(value)

    return _env.get_template("audit_report.html").render(
        report=report, images=images, t=texts, lang=lang, text=text, leaks=leaks(report),
        lifetime=lambda seconds: lifetime_words(seconds, lang), necessary=NECESSARY,
    )
