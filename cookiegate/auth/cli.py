"""`revoke-token`: end an API token (or all of a user's)."""
from __future__ import annotations

import click
from sqlalchemy import select, update

from .. import audit_trail
from ..cli import group
from ..extensions import db
from ..models import ApiToken
from ..users import TOKEN_PREFIX, get_user, hash_token


@group.command("revoke-token")
@click.argument("token_or_prefix", required=False)
@click.option("--user", "email", help="Revoke every token of this user instead.")
def revoke_token_command(token_or_prefix, email):
    """Revoke an API token, named by the token itself or its prefix (as create-token shows it),
    or every token of a user with --user EMAIL. Takes effect at the next request."""
    if bool(token_or_prefix) == bool(email):
        raise click.UsageError("give a token (or its prefix) or --user EMAIL")
    if email:
        user = get_user(email)
        if user is None:
            raise click.ClickException(f"no user {email!r}")
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
        db.session.execute(update(ApiToken).where(ApiToken.id == row.id).values(revoked=True))
        audit_trail.record(actor, "token.revoke", email=row.user.email, prefix=row.prefix)
    db.session.commit()
    click.echo(f"Revoked {len(rows)} token(s).")
