"""`flask --app wsgi cookiegate <command>`: set-up and data-protection chores."""
from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .audit_trail import cli_actor
from .colours import parse_option
from .extensions import db
from .proof import cli as proof_cli
from .sites import BUILTIN_SERVICES, bump_policy, create_site, get_site, set_banner_colours
from .users import ROLES, create_api_token, create_user, get_user

group = AppGroup("cookiegate", help="Manage sites, users and the consent log.")


def _site_or_fail(key: str):
    site = get_site(key)
    if site is None:
        raise click.ClickException(f"no site with key {key!r}")
    return site


def user_or_fail(email: str):
    user = get_user(email)
    if user is None:
        raise click.ClickException(f"no user {email!r}")
    return user


def read_password(from_stdin: bool, prompt: str = "Password") -> str:
    """One line of standard input (--password-stdin), else typed twice without echo."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@group.command("create-site")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, required=True, help="An origin the banner runs on, e.g. https://shop.example.dk (repeatable).")
@click.option("--ga", help="Google Analytics 4 measurement id (G-XXXX).")
@click.option("--fb", help="Meta (Facebook) pixel id.")
@click.option("--lang", "languages", multiple=True, help="Languages of the banner, the first is the default (default: da, en).")
@click.option("--privacy-policy", "privacy_policy_url", help="URL of the site's privacy policy.")
@click.option("--colour", "colours", multiple=True, metavar="KEY=#HEX", help="A banner colour: accent, background or text (repeatable).")
def create_site_command(name, origins, ga, fb, languages, privacy_policy_url, colours):
    """A site with the standard categories; prints the site key as its last line."""
    languages = languages or ("da", "en")
    try:
        site = create_site(
            name, origins, ga=ga, fb=fb, languages=languages, default_language=languages[0], privacy_policy_url=privacy_policy_url,
            colours=parse_option(colours),
            actor=cli_actor(),
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created site {site.name!r} for {', '.join(site.origins)}.")
    for service in site.services:
        click.echo(f"  {service.name} ({service.category.slug}): {service.settings[BUILTIN_SERVICES[service.kind]['setting']]}")
    click.echo("Embed: <script src=\"https://YOUR-COOKIEGATE-HOST/banner/v1/cookiegate.js\" " f"data-site=\"{site.key}\"></script>")
    click.echo(site.key)


@group.command("banner-colours")
@click.argument("site_key")
@click.argument("colours", nargs=-1, metavar="[KEY=#HEX]...")
def banner_colours_command(site_key, colours):
    """Set a site's banner colours (accent, background, text); none given resets to the defaults."""
    site = _site_or_fail(site_key)
    try:
        stored = set_banner_colours(site, parse_option(colours))
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Banner colours of {site.name!r}: " + (", ".join(f"{k}={v}" for k, v in stored.items()) or "the defaults"))


@group.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--site", "site_keys", multiple=True, help="A site the user may see (repeatable; admins see all).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email, role, site_keys, password_stdin):
    """A user; the password comes from --password-stdin or a prompt."""
    sites = [_site_or_fail(key) for key in site_keys]
    password = read_password(password_stdin)
    try:
        user = create_user(email, password, role, sites, actor=cli_actor())
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}" + (f" for {', '.join(s.key for s in sites)}" if sites else "") + ".")


@group.command("create-token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for (shown in the console beside it).")
def create_token_command(email, name):
    """A Bearer API token for the stats API; prints it as its last line (it is shown only once)."""
    user = user_or_fail(email)
    try:
        token = create_api_token(user, actor=cli_actor(), name=name)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"API token for {user.email} (store it now; only its hash is kept; revoke it with: revoke-token {token[:10]}):")
    click.echo(token)


@group.command("bump-policy")
@click.argument("site_key")
def bump_policy_command(site_key):
    """Raise the policy version: every visitor is asked again (within 60 s in every process)."""
    site = _site_or_fail(site_key)
    version = bump_policy(site, actor=cli_actor())
    db.session.commit()
    click.echo(f"Policy version of {site.key} is now {version}.")


@group.command("demo")
@click.option("--days", default=30, show_default=True, help="Days of sample data, up to today.")
@click.option("--consents", type=click.IntRange(min=0), help="Sample consents in all (default: about 40 a day).")
@click.option("--url", "base_url", default="http://127.0.0.1:8000", show_default=True, help="Where the service runs (for the printed links).")
def demo_command(days, consents, base_url):
    """The demo site, its page, a demo marketer and realistic sample data recorded through the
    API's recording code (safe to run again: sample data is added only to an empty demo site,
    or when --consents is given)."""
    from .demo import (
        DEMO_ADMIN,
        DEMO_ADMIN_PASSWORD,
        DEMO_KEY,
        DEMO_MARKETER,
        DEMO_PASSWORD,
        ensure_demo_site,
        ensure_demo_users,
        has_sample_data,
        seed_sample_data,
    )

    if days < 1:
        raise click.BadParameter("must be at least 1", param_hint="--days")
    # Logins with printed passwords never on a production service.
    with_logins = current_app.config["COOKIEGATE_ENV"] != "production"
    site, created = ensure_demo_site()
    if with_logins:
        ensure_demo_users(site)
    db.session.commit()
    if consents is not None or created or not has_sample_data(site):
        total = consents if consents is not None else 40 * days
        with click.progressbar(length=total, label="Recording sample consents", file=sys.stderr,
                               show_pos=True, show_eta=True) as bar:
            count = seed_sample_data(site, days=days, consents=total, progress=bar.update)
        click.echo(f"Demo site {DEMO_KEY!r} with {count} sample consents over {days} days.")
    else:
        click.echo(f"Demo site {DEMO_KEY!r} exists already.")
    base_url = base_url.rstrip("/")
    click.echo(f"Dashboard:  {base_url}/dashboard/{site.key}/")
    click.echo(f"Console:    {base_url}/admin/")
    if with_logins:
        click.echo(f"Log in at {base_url}/login as {DEMO_MARKETER} with password {DEMO_PASSWORD} (demo marketer)")
        click.echo(f"       or as {DEMO_ADMIN} with password {DEMO_ADMIN_PASSWORD} (demo administrator)")
    else:
        click.echo("No demo logins in production: make users with create-user.")
    click.echo(site.key)


for command in proof_cli.COMMANDS:  # checkpoint, checkpoint-key, verify-log, erase, purge, export
    group.add_command(command)


def init_app(app: Flask) -> None:
    from .siteaudit.cli import audit_command

    group.add_command(audit_command)
    app.cli.add_command(group)
