"""`flask api token issue|list|revoke`: API tokens for integrations, from the operator's command line."""
from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from plugin.core.clock import utcnow
from plugin.core.db import writing
from plugin.errors import DomainError
from plugin.extensions import db
from plugin.tenancy.models import Organisation
from plugin.tokens import service as tokens
from plugin.tokens.models import ApiToken

api_cli = AppGroup("api", help="The JSON API: tokens for integrations.")
token_cli = AppGroup("token", help="Issue, list and revoke API tokens.")
api_cli.add_command(token_cli)


def _organisation(name: str) -> Organisation:
    org = db.session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise click.ClickException(f"No organisation named {name!r}.")
    return org


@token_cli.command("issue")
@click.option("--org", "organisation", required=True, help="Organisation the token acts for.")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(sorted(tokens.SCOPES)),
              help="Repeat for several scopes.")
@click.option("--days", type=click.IntRange(1, tokens.MAX_DAYS), default=90, show_default=True)
@click.option("--name", default="integration", show_default=True, help="Shown in lists and the audit log.")
def issue(organisation, scopes, days, name):
    """Print a new API token once (only its hash is kept)."""
    with writing():
        org = _organisation(organisation)
        try:
            issued = tokens.issue(org.id, name, list(scopes), days, utcnow())
        except DomainError as err:
            raise click.ClickException(f"{err.message} {err.errors or ''}".strip()) from None
        db.session.commit()
    click.echo(issued.secret)
    click.echo(f"Token {issued.token.prefix}... for {org.name!r}, scopes {issued.token.scopes}, expires "
               f"{issued.token.expires_at:%Y-%m-%d %H:%M} UTC. It is shown only now.", err=True)


@token_cli.command("list")
@click.option("--org", "organisation", required=True)
def list_tokens(organisation):
    """id, prefix, name, scopes, expiry, state, last use."""
    org = _organisation(organisation)
    now = utcnow()
    for t in db.session.scalars(select(ApiToken).where(ApiToken.organisation_id == org.id).order_by(ApiToken.id)):
        state = "revoked" if t.revoked_at else ("expired" if t.expires_at <= now else "active")
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        click.echo(f"{t.id}\t{t.prefix}...\t{t.name}\t{t.scopes}\t{t.expires_at:%Y-%m-%d}\t{state}\t{used}")


@token_cli.command("revoke")
@click.option("--org", "organisation", required=True)
@click.argument("token_id", type=int)
def revoke(organisation, token_id):
    """Revoke a token at once (it stays listed, and in the audit log)."""
    with writing():
        org = _organisation(organisation)
        try:
            tokens.revoke(org.id, token_id, utcnow())
        except DomainError as err:
            raise click.ClickException(err.message) from None
        db.session.commit()
    click.echo(f"Revoked token {token_id}.")
