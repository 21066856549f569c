"""`flask --app wsgi cookiegate audit URL`: the pre-consent audit from the command line."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..extensions import db
from ..sites.site import get_site
from .audit import AuditError, Options, run_audit
from .report import LANGUAGES, render_html


def command_line(url: str, params: dict) -> list[str]:
    """The command as the audit understood it, for the report (no secrets are among its options)."""
    line = ["flask", "--app", "wsgi", "cookiegate", "audit", url]
    for name, flag in (("site_key", "--site"), ("pages", "--pages"), ("json_file", "--json"), ("html_file", "--html"), ("lang", "--lang"), ("time_limit", "--time-limit")):
        if params.get(name) not in (None, ""):
            line += [flag, str(params[name])]
    for arg in params.get("chromium_args") or ():
        line += ["--chromium-arg", arg]
    return line


@click.command("audit")
@click.argument("url")
@click.option("--site", "site_key", help="The site's key: its declaration is read from this database, the returning-visitor tokens are signed here, and the report is kept in its history.")
@click.option("--pages", default=0, show_default=True, type=click.IntRange(0, 200), help="Same-origin links to follow beyond URL (robots.txt permitting).")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Write the JSON report here.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Write the HTML report (with screenshots) here.")
@click.option("--lang", default="da", show_default=True, type=click.Choice(LANGUAGES), help="Language of the HTML report.")
@click.option("--time-limit", default=600, show_default=True, type=click.IntRange(30, 7200), help="Seconds for the whole audit; pages not reached are reported as skipped.")
@click.option("--chromium-arg", "chromium_args", multiple=True, help="Extra Chromium flag, e.g. --host-resolver-rules=… (repeatable).")
@click.pass_context
def audit_command(ctx, url, site_key, pages, json_file, html_file, lang, time_limit, chromium_args):
    """Check that URL sets nothing but necessary cookies before consent and after "Reject all".

    Five checks in fresh Chromium profiles at once: no choice, "Reject all", "Accept all", and a
    returning visitor's consent cookie for each choice. Exit status 0: pass; 1: something
    needing consent ran too early, or a click on the banner was not recorded; 2: the audit
    could not run.
    """
    site = declaration = tokens = None
    if site_key:
        site = get_site(site_key)
        if site is None:
            click.echo(f"Error: no site with key {site_key!r}", err=True)
            ctx.exit(2)
        from .store import declaration_of, preset_tokens

        declaration, tokens = declaration_of(site), preset_tokens(site)
        db.session.rollback()  # no transaction held open while the browser works
    options = Options(pages=pages, max_seconds=time_limit, chromium_args=tuple(chromium_args))
    try:
        result = run_audit(
            url, site_key=site_key, declaration=declaration, tokens=tokens, options=options,
            progress=lambda m: click.echo(f"  {m}", err=True), command_line=command_line(url, ctx.params),
        )
    except AuditError as error:
        click.echo(f"Error: {error}", err=True)
        ctx.exit(2)
    report = result.report
    if json_file:
        json_file.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if html_file:
        html_file.write_text(render_html(report, result.screenshots, lang), encoding="utf-8")
    if site is not None:
        from .store import save_audit

        save_audit(db.session.merge(site), report)
        db.session.commit()
    for entry in report["passes"]:
        choice = entry.get("choice")
        recorded = "" if choice is None else (" choice recorded" if choice["recorded"] else " choice NOT recorded")
        click.echo(f"{entry['name']:<10} {entry['verdict'].upper():<5} {len(entry['findings'])} finding(s){recorded}" + (f" - {entry['error']}" if entry.get("error") else ""))
    for entry in report["token_check"]["passes"]:
        click.echo(f"{entry['name'] + ' (token)':<18} {entry['verdict'].upper():<5} same as the click: {'yes' if entry['same'] else 'no'}")
    for warning in report["warnings"]:
        click.echo(f"note: {warning}")
    if report["token_check"].get("error"):
        click.echo(f"token check: not done ({report['token_check']['error']})")
    for finding in report["findings"]:
        purpose = (finding.get("purpose") or {}).get("en", "")
        click.echo(f"  {finding['kind']} {finding['name']} ({finding['host']}, {finding['category']}) in {', '.join(finding['passes'])}" + (f": {purpose}" if purpose else ""))
    distinct = report["summary"]["distinct_findings"]
    click.echo(f"Verdict: {report['verdict'].upper()} ({distinct} distinct finding(s), {report['duration_seconds']} s, {len(report['pages'])} page(s))")
    if report["verdict"] != "pass":
        ctx.exit(1)
