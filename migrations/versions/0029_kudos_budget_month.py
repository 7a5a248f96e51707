"""Kudos remember the budget month their points were spent in: a revocation refunds that month, even after the
organisation's time zone changed (recomputed in the new zone, a kudos given late on a month's last day fell in the
next month, whose budget row the refund then missed). Kudos given before: their month in the organisation's time zone
now, as a revocation computed it until this revision.

Revision ID: 0029
Revises: 0028
"""
from datetime import timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("kudos") as batch:
        batch.add_column(sa.Column("budget_month", sa.String(length=7), nullable=True))
    bind = op.get_bind()
    zones = dict(bind.execute(sa.text("SELECT organisation_id, time_zone FROM organisation_settings")).all())
    kudos = sa.table("kudos", sa.column("id", sa.Integer), sa.column("budget_month", sa.String))
    rows = bind.execute(sa.text("SELECT id, organisation_id, created_at FROM kudos WHERE points > 0")).all()
    for kudos_id, organisation_id, created_at in rows:
        if isinstance(created_at, str):  # SQLite hands the stored text back
            from datetime import datetime
            created_at = datetime.fromisoformat(created_at)
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        local = created_at.astimezone(ZoneInfo(zones.get(organisation_id) or "UTC"))
        bind.execute(kudos.update().where(kudos.c.id == kudos_id).values(budget_month=f"{local.year}-{local.month:02d}"))


def downgrade():
    with op.batch_alter_table("kudos") as batch:
        batch.drop_column("budget_month")
