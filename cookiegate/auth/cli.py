"""Accounts from the command line: `create-user`, `create-token`, `set-password`, `delete-user`,
`revoke-token`."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import audit_trail
from ..cli import refused
from ..errors import Invalid
from ..extensions import db
from ..models import ApiToken
from ..sites.cli import site_or_fail
from .users import ROLES, TOKEN_PREFIX, create_api_token, create_user, delete_user, get_user, hash_token, revoke_token, set_password


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


@click.command("create-user")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--site", "site_keys", multiple=True, help="A site the user may see (repeatable; admins see all).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def create_user_command(email, role, site_keys, password_stdin):
    """A user; the password comes from --password-stdin or a prompt."""
    sites = [site_or_fail(key) for key in site_keys]
    password = read_password(password_stdin)
    try:
        user = create_user(email, password, role, sites, actor=audit_trail.cli_actor())
    except Invalid as error:
        raise refused(error, {"email": "EMAIL", "role": "--role"}) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}" + (f" for {', '.join(s.key for s in sites)}" if sites else "") + ".")


@click.command("create-token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for (shown in the console beside it).")
@with_appcontext
def create_token_command(email, name):
    """A Bearer API token for the stats API; prints it as its last line (it is shown only once)."""
    user = user_or_fail(email)
    try:
        token = create_api_token(user, actor=audit_trail.cli_actor(), name=name)
    except Invalid as error:
        raise refused(error, {"name": "--name"}) from None
    db.session.commit()
    click.echo(f"API token for {user.email} (store it now; only its hash is kept; revoke it with: revoke-token {token[:10]}):")
    click.echo(token)


@click.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def set_password_command(email, password_stdin):
    """Give a user a new password (from --password-stdin or a prompt); every session of theirs ends."""
    user = user_or_fail(email)
    password = read_password(password_stdin, "New password")
    try:
        set_password(user, password, actor=audit_trail.cli_actor())
    except Invalid as error:
        raise refused(error) from None
    db.session.commit()
    click.echo(f"New password set for {user.email}; their sessions have ended.")


@click.command("delete-user")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def delete_user_command(email, yes):
    """Delete a user with their API tokens and sessions (the audit trail keeps their e-mail)."""
    user = user_or_fail(email)
    if not yes:
        click.confirm(f"Delete {user.role} {user.email} with their API tokens and sessions?", abort=True)
    delete_user(user, actor=audit_trail.cli_actor())
    db.session.commit()
    click.echo(f"Deleted {user.email}.")


@click.command("revoke-token")
@click.argument("token_or_prefix", required=False)
@click.option("--user", "email", help="Revoke every token of this user instead.")
@with_appcontext
def revoke_token_command(token_or_prefix, email):
    """Revoke an API token, named by the token itself or its prefix (as create-token shows it),
    or every token of a user with --user EMAIL. Takes effect at the next request."""
    if bool(token_or_prefix) == bool(email):
        raise click.UsageError("give a token (or its prefix) or --user EMAIL")
    if email:
        user = user_or_fail(email)
        rows = list(db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))).scalars())
    else:
        value = token_or_prefix.strip()
        if not value.startswith(TOKEN_PREFIX):
            raise click.ClickException(f"API tokens start with {TOKEN_PREFIX!r}")
        if len(value) > 12:
            rows = list(db.session.execute(select(ApiToken).where(ApiToken.token_hash == hash_token(value))).scalars())
        else:
            rows = list(db.session.execute(select(ApiToken).where(ApiToken.prefix == value)).scalars())
        if len(rows) > 1:
            raise click.ClickException("several tokens have this prefix; give the whole token or use --user")
        if not rows:
            raise click.ClickException("no such token")
    actor = audit_trail.cli_actor()
    for row in rows:
        revoke_token(row, actor)
    db.session.commit()
    click.echo(f"Revoked {len(rows)} token(s).")


COMMANDS = (create_user_command, create_token_command, set_password_command, delete_user_command, revoke_token_command)
