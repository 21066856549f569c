"""Accounts from the command line: `set-password`, `delete-user`, `revoke-token`."""
from __future__ import annotations

import click
from sqlalchemy import select

from .. import audit_trail
from ..cli import group, read_password, user_or_fail
from ..extensions import db
from ..models import ApiToken
from ..users import TOKEN_PREFIX, delete_user, hash_token, revoke_token, set_password


@group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password_command(email, password_stdin):
    """Give a user a new password (from --password-stdin or a prompt); every session of theirs ends."""
    user = user_or_fail(email)
    password = read_password(password_stdin, "New password")
    try:
        set_password(user, password, actor=audit_trail.cli_actor())
    except ValueError as error:
        raise click.ClickException(f"the password: {error}") from None
    db.session.commit()
    click.echo(f"New password set for {user.email}; their sessions have ended.")


@group.command("delete-user")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_user_command(email, yes):
    """Delete a user with their API tokens and sessions (the audit trail keeps their e-mail)."""
    user = user_or_fail(email)
    if not yes:
        click.confirm(f"Delete {user.role} {user.email} with their API tokens and sessions?", abort=True)
    delete_user(user, actor=audit_trail.cli_actor())
    db.session.commit()
    click.echo(f"Deleted {user.email}.")


@group.command("revoke-token")
@click.argument("token_or_prefix", required=False)
@click.option("--user", "email", help="Revoke every token of this user instead.")
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
