"""`flask badges export`: every award as CSV on stdout, for audits and re-issuing elsewhere."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from plugin.extensions import db

badges_cli = AppGroup("badges", help="Open Badges: export awards.")


@badges_cli.command("export")
@click.option("--org", "organisation", default=None, help="Organisation name (default: every organisation).")
def export(organisation):
    """Print a CSV of awards (recipient, badge, date, status, hosted assertion URL)."""
    from plugin.badges.export import COLUMNS, export_csv
    from plugin.badges.openbadges import Urls
    from plugin.tenancy.models import Organisation

    query = db.select(Organisation.id).order_by(Organisation.id)
    if organisation:
        query = query.where(Organisation.name == organisation)
    ids = list(db.session.scalars(query))
    if organisation and not ids:
        raise click.ClickException(f"no organisation named {organisation!r}")
    urls = Urls(current_app.config["TINKER_BASE_URL"])
    header_done = False
    for org_id in ids:
        text = export_csv(org_id, urls)
        click.echo(text if not header_done else text.split("\r\n", 1)[1], nl=False)
        header_done = True
    if not ids:
        click.echo(",".join(COLUMNS))
