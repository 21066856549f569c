"""Sites from the command line: `create-site`, `banner-colours`, `bump-policy`."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..audit_trail import cli_actor
from ..cli import refused
from ..errors import Invalid
from ..extensions import db
from .catalogue import BUILTIN_SERVICES
from .colours import parse_option
from .site import bump_policy, create_site, get_site, set_banner_colours

# The fields of sites.site.create_site as create-site's options name them.
OPTIONS = {"name": "NAME", "origins": "--origin", "languages": "--lang", "default_language": "--lang",
           "privacy_policy_url": "--privacy-policy", "colours": "--colour", "ga": "--ga", "fb": "--fb"}


def site_or_fail(key: str):
    site = get_site(key)
    if site is None:
        raise click.ClickException(f"no site with key {key!r}")
    return site


@click.command("create-site")
@click.argument("name")
@click.option("--origin", "origins", multiple=True, required=True, help="An origin the banner runs on, e.g. https://shop.example.dk (repeatable).")
@click.option("--ga", help="Google Analytics 4 measurement id (G-XXXX).")
@click.option("--fb", help="Meta (Facebook) pixel id.")
@click.option("--lang", "languages", multiple=True, help="Languages of the banner, the first is the default (default: da, en).")
@click.option("--privacy-policy", "privacy_policy_url", help="URL of the site's privacy policy.")
@click.option("--colour", "colours", multiple=True, metavar="KEY=#HEX", help="A banner colour: accent, background or text (repeatable).")
@with_appcontext
def create_site_command(name, origins, ga, fb, languages, privacy_policy_url, colours):
    """A site with the standard categories; prints the site key as its last line."""
    languages = languages or ("da", "en")
    try:
        site = create_site(
            name, origins, ga=ga, fb=fb, languages=languages, default_language=languages[0], privacy_policy_url=privacy_policy_url,
            colours=parse_option(colours),
            actor=cli_actor(),
        )
    except Invalid as error:
        raise refused(error, OPTIONS) from None
    db.session.commit()
    click.echo(f"Created site {site.name!r} for {', '.join(site.origins)}.")
    for service in site.services:
        click.echo(f"  {service.name} ({service.category.slug}): {service.settings[BUILTIN_SERVICES[service.kind]['setting']]}")
    click.echo("Embed: <script src=\"https://YOUR-COOKIEGATE-HOST/banner/v1/cookiegate.js\" " f"data-site=\"{site.key}\"></script>")
    click.echo(site.key)


@click.command("banner-colours")
@click.argument("site_key")
@click.argument("colours", nargs=-1, metavar="[KEY=#HEX]...")
@with_appcontext
def banner_colours_command(site_key, colours):
    """Set a site's banner colours (accent, background, text); none given resets to the defaults."""
    site = site_or_fail(site_key)
    try:
        stored = set_banner_colours(site, parse_option(colours))
    except Invalid as error:
        raise refused(error, {"colours": "colours"}) from None
    db.session.commit()
    click.echo(f"Banner colours of {site.name!r}: " + (", ".join(f"{k}={v}" for k, v in stored.items()) or "the defaults"))


@click.command("bump-policy")
@click.argument("site_key")
@with_appcontext
def bump_policy_command(site_key):
    """Raise the policy version: every visitor is asked again (within 60 s in every process)."""
    site = site_or_fail(site_key)
    version = bump_policy(site, actor=cli_actor())
    db.session.commit()
    click.echo(f"Policy version of {site.key} is now {version}.")


COMMANDS = (create_site_command, banner_colours_command, bump_policy_command)
