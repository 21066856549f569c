"""The proof-of-consent commands (attached to `flask --app wsgi cookiegate`):
checkpoint, checkpoint-key, verify-log, erase, purge, export."""
from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import audit_trail
from ..extensions import db
from ..infra.signing import consent_hash
from ..models import Site
from ..sites.cache import process_state
from ..sites.site import get_site
from ..stats.rollup import catch_up
from .checkpoints import parse_line
from .keys import CheckpointKeyError, checkpoint_keys, key_id, public_pem, public_text, write_new_key
from .receipt import receipt
from .removal import PURGE_BATCH, PURGE_REST, count_expired, erase, expire_retry_keys, purge_cutoff, purge_site
from .schedule import checkpoint_sites
from .verify import verify_log


def _site_or_fail(key: str) -> Site:
    site = get_site(key)
    if site is None:
        raise click.ClickException(f"no site with key {key!r}")
    return site


def _sites(keys) -> list[Site]:
    if keys:
        return [_site_or_fail(key) for key in keys]
    return list(db.session.execute(select(Site).order_by(Site.key)).scalars())


def _keys():
    try:
        return checkpoint_keys()
    except CheckpointKeyError as error:
        raise click.ClickException(str(error)) from None


def _sign(sites: list[Site]) -> bool:
    """Checkpoint each site; print one line per site on stdout; False if any was refused."""
    keys = _keys()
    try:
        keys.signer()
    except CheckpointKeyError as error:
        raise click.ClickException(str(error)) from None
    ok = True
    for result in checkpoint_sites(sites, keys, audit_trail.cli_actor()):
        if result.outcome == "empty":
            click.echo(f"{result.site}: no records yet, nothing to sign", err=True)
        elif result.outcome == "refused":
            ok = False
            click.echo(f"{result.site}: NOT signed, the log does not verify since the last checkpoint:", err=True)
            for problem in result.problems:
                click.echo(f"  {problem}", err=True)
        else:
            if result.outcome == "unchanged":
                click.echo(f"{result.site}: unchanged since the last checkpoint", err=True)
            click.echo(result.checkpoint.line())
    return ok


@click.command("checkpoint")
@click.option("--site", "site_keys", multiple=True, help="Only this site (repeatable; default: every site).")
@with_appcontext
def checkpoint_command(site_keys):
    """Sign each site's log head; prints one checkpoint line per site to publish or archive."""
    if not _sign(_sites(site_keys)):
        sys.exit(1)


@click.command("checkpoint-key")
@click.option("--new", "new_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a new private key to this PEM file (mode 0600) and show its public key.")
@with_appcontext
def checkpoint_key_command(new_file):
    """Show the public key that verifies checkpoint lines (or make a new private key)."""
    if new_file is not None:
        try:
            key = write_new_key(new_file).public_key()
        except FileExistsError:
            raise click.ClickException(f"{new_file} exists; not overwritten") from None
        click.echo(f"Wrote {new_file}. Set COOKIEGATE_CHECKPOINT_KEY_FILE={new_file} where `checkpoint` runs.")
    else:
        keys = _keys()
        try:
            key = keys.signer().public_key()
        except CheckpointKeyError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"Signing key from {keys.source}.")
    click.echo(f"Key id {key_id(key)}; public key (PEM, for openssl):")
    click.echo(public_pem(key).rstrip())
    click.echo("Public key (base64, for COOKIEGATE_CHECKPOINT_PUBLIC_KEYS):")
    click.echo(public_text(key))


@click.command("verify-log")
@click.option("--site", "site_keys", multiple=True, help="Only this site (repeatable; default: every site).")
@click.option("--checkpoint", "lines", multiple=True, metavar="LINE",
              help="A checkpoint line kept elsewhere, checked too (repeatable).")
@click.option("--checkpoint-file", "files", multiple=True, type=click.File("r"),
              help="A file of archived checkpoint lines, one a line (repeatable; '-' for standard input).")
@click.option("--checkpoint-url", "urls", multiple=True, metavar="URL",
              help="A published checkpoint archive (GET /api/v1/sites/<key>/checkpoints, or a copy of it: its JSON "
                   "or plain lines), checked too (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON report instead of text.")
@with_appcontext
def verify_log_command(site_keys, lines, files, urls, as_json):
    """Check every record, tombstone, revocation, banner text, the chain and the checkpoints.
    Per site: green (verified up to the last checkpoint), amber (later records chained, not yet
    signed), empty (nothing ever recorded or signed) or red; exit 1 on red. Each line states the
    window: the time since the last checkpoint, in which records after it could change unseen."""
    keys = _keys()
    given = []
    texts = list(lines) + [line for handle in files for line in handle.read().splitlines() if line.strip()]
    for url in urls:
        texts.extend(fetch_checkpoints(url))
    for text in texts:
        try:
            given.append(parse_line(text))
        except ValueError as error:
            raise click.ClickException(f"{error}: {text[:80]!r}") from None
    sites = _sites(site_keys)
    known = {site.key for site in sites}
    unknown = sorted({c.site for c in given} - known)
    if unknown and not site_keys:
        raise click.ClickException(f"checkpoint lines name unknown sites: {', '.join(unknown)} (a deleted site?)")
    reports = verify_log(keys, sites, given)
    if as_json:
        click.echo(json.dumps({"sites": [r.as_dict() for r in reports]}, indent=2))
    else:
        for report in reports:
            click.echo(report.summary())
            for problem in report.problems:
                click.echo(f"  {problem}")
            if report.problem_count > len(report.problems):
                click.echo(f"  … and {report.problem_count - len(report.problems)} more")
    red = [r.site for r in reports if r.status == "red"]
    if red:
        click.echo(f"The log of {', '.join(red)} was altered (see above).", err=True)
        sys.exit(1)


def fetch_checkpoints(url: str) -> list[str]:
    """The checkpoint lines at a published URL: the archive's JSON, or one line per checkpoint."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (an operator's own URL)
            body = response.read(64 * 1024 * 1024).decode("utf-8")
    except (urllib.error.URLError, OSError, UnicodeDecodeError, ValueError) as error:
        raise click.ClickException(f"cannot read the checkpoint archive at {url}: {error}") from None
    try:
        document = json.loads(body)
    except ValueError:
        return [line for line in body.splitlines() if line.strip()]
    if not isinstance(document, dict) or not isinstance(document.get("checkpoints"), list):
        raise click.ClickException(f"{url} is not a checkpoint archive (expected {{\"checkpoints\": [lines]}})")
    return [str(line) for line in document["checkpoints"]]


@click.command("erase")
@click.argument("site_key")
@click.argument("consent_id")
@with_appcontext
def erase_command(site_key, consent_id):
    """Erase a visitor's records: tombstones keep the log verifiable, every token of the consent
    answers `withdrawn` within 60 s, statistics keep their totals."""
    site = _site_or_fail(site_key)
    catch_up(site.id)  # the statistics count each record before its payload goes
    emptied = erase(site, consent_id.strip(), audit_trail.cli_actor())
    if not emptied:
        db.session.rollback()
        raise click.ClickException(f"no records held for consent {consent_id!r} on site {site.key} (erased already, purged, or a typo?)")
    db.session.commit()
    # This process at once; the stored revocation (ordered by seq) reaches every process within the state TTL.
    process_state().revocations.note(consent_id, None, dt.datetime.now(dt.timezone.utc))
    click.echo(f"Erased {emptied} record(s) of that consent on {site.key}; its tokens now answer 'withdrawn' "
               f"(every server process within 60 s). Audit entry names it as {consent_hash(consent_id)[:16]}….")


def _as_of(value):
    if value is None:
        return dt.datetime.now(dt.timezone.utc).date()
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--as-of") from None
    if day > dt.datetime.now(dt.timezone.utc).date():
        raise click.BadParameter("a day in the future would delete proof the retention still promises to keep", param_hint="--as-of")
    return day


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would go.")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Purge as on this day (default: today; not in the future).")
@click.option("--batch-size", default=PURGE_BATCH, show_default=True, type=click.IntRange(1, 100_000),
              help="Records per short transaction.")
@click.option("--rest", default=PURGE_REST, show_default=True, type=click.FloatRange(0, 100),
              help="After each batch, pause this multiple of the time it took (0: full speed).")
@with_appcontext
def purge_command(dry_run, as_of, batch_size, rest):
    """Tombstone records past the consent lifetime plus the site's retention, in short batches
    (safe to interrupt and to run again, consents keep being written); then sign a checkpoint."""
    day = _as_of(as_of)
    sites = _sites(())
    plan = [(site, count_expired(site, day)) for site in sites]
    db.session.rollback()
    for site, count in plan:
        cutoff = purge_cutoff(site, day).date().isoformat()
        click.echo(f"{site.key}: {count} record(s) created before {cutoff} "
                   f"({site.consent_lifetime_days} + {site.retention_days} days)" + (" would go" if dry_run else ""))
    if dry_run:
        click.echo(f"Dry run: {sum(c for _, c in plan)} record(s) in all; nothing changed.")
        return
    actor = audit_trail.cli_actor()
    purged_sites = []
    committed = 0  # records in finished (committed) batches, the interrupted site's included
    try:
        for site, count in plan:
            catch_up(site.id, rest=rest)  # the statistics count each record before its payload goes
            if not count:
                purge_site(site, day, actor, batch=batch_size, rest=rest)  # expired revocations go too
                continue
            with click.progressbar(length=count, label=f"Purging {site.key}", file=sys.stderr) as bar:

                def progress(done: int, bar=bar) -> None:
                    nonlocal committed
                    committed += done
                    bar.update(done)

                result = purge_site(site, day, actor, batch=batch_size, progress=progress, rest=rest)
            purged_sites.append(site)
            click.echo(f"{site.key}: purged {result.purged} record(s)")
    except KeyboardInterrupt:
        db.session.rollback()
        click.echo(f"Interrupted after {committed} record(s); every finished batch is kept. Run purge again to go on.", err=True)
        sys.exit(130)
    click.echo(f"Purged {committed} record(s) in all.")
    keys = expire_retry_keys()
    if keys:
        click.echo(f"Dropped {keys} retry key(s) older than 24 hours.")
    if purged_sites:
        click.echo("Checkpoint after the purge:")
        if not _sign(purged_sites):
            sys.exit(1)


@click.command("export")
@click.argument("site_key")
@click.argument("consent_id")
@with_appcontext
def export_command(site_key, consent_id):
    """A visitor's records as a consent receipt in JSON (access, portability; ISO/IEC TS 27560)."""
    site = _site_or_fail(site_key)
    document = receipt(site, consent_id)
    if document is None:
        raise click.ClickException(f"no records held for consent {consent_id!r} on site {site.key}")
    audit_trail.record(audit_trail.cli_actor(), "consent.export", site=site, consent_hash=consent_hash(consent_id))
    db.session.commit()
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


COMMANDS = (checkpoint_command, checkpoint_key_command, verify_log_command, erase_command, purge_command, export_command)
