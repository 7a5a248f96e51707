"""`flask privacy purge`: blank experiment text older than each organisation's retention period."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from plugin.core.clock import utcnow
from plugin.core.db import writing
from plugin.extensions import db

privacy_cli = AppGroup("privacy", help="Privacy: the experiment text retention period.")


def purge_now() -> dict[int, int]:
    """One purge in its own transaction (also run by `flask outbox run`, the operator's minutely cron)."""
    from plugin.privacy.retention import purge_expired

    with writing():
        purged = purge_expired(utcnow())
        db.session.commit()
    return purged


@privacy_cli.command("purge")
def purge():
    """Remove the text of experiments older than their organisation's retention period (ids, outcomes,
    minutes saved and points stay); prints how many per organisation."""
    from plugin.tenancy.models import Organisation

    purged = purge_now()
    for organisation_id, count in sorted(purged.items()):
        click.echo(f"{db.session.get(Organisation, organisation_id).name}: text removed from {count} experiments")
    click.echo(f"Privacy: {sum(purged.values())} experiments purged.")
