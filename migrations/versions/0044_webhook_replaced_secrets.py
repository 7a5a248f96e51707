"""Every secret a rotation replaced keeps signing for a day from its own replacement (`replaced_secrets`, a list of
{"secret": Fernet token, "until": ISO time}), instead of only the first of a day's rotations: a receiver that had
switched to the new secret refused every delivery once the secret was replaced again that day. A secret 0043 kept
(previous_secret_encrypted, until previous_secret_until) is carried over.

Revision ID: 0044
Revises: 0043
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from plugin.core.db import UTCDateTime

revision = '0044'
down_revision = '0043'
branch_labels = None
depends_on = None

OLD = sa.table("webhook_endpoint", sa.column("id", sa.Integer), sa.column("previous_secret_encrypted", sa.String),
               sa.column("previous_secret_until", UTCDateTime()), sa.column("replaced_secrets", sa.JSON))


def upgrade():
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.add_column(sa.Column("replaced_secrets", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    bind = op.get_bind()
    for row in bind.execute(sa.select(OLD.c.id, OLD.c.previous_secret_encrypted, OLD.c.previous_secret_until).where(
            OLD.c.previous_secret_encrypted.is_not(None), OLD.c.previous_secret_until.is_not(None))).all():
        bind.execute(OLD.update().where(OLD.c.id == row.id).values(replaced_secrets=[
            {"secret": row.previous_secret_encrypted, "until": row.previous_secret_until.isoformat()}]))
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.drop_column("previous_secret_until")
        batch.drop_column("previous_secret_encrypted")


def downgrade():
    # 0043 holds one: the secret replaced last (the one a receiver that switched may hold) keeps signing.
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.add_column(sa.Column("previous_secret_encrypted", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("previous_secret_until", UTCDateTime(), nullable=True))
    bind = op.get_bind()
    for row in bind.execute(sa.select(OLD.c.id, OLD.c.replaced_secrets)).all():
        if row.replaced_secrets:
            last = max(row.replaced_secrets, key=lambda entry: entry["until"])
            bind.execute(OLD.update().where(OLD.c.id == row.id).values(
                previous_secret_encrypted=last["secret"],
                previous_secret_until=datetime.fromisoformat(last["until"])))
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.drop_column("replaced_secrets")

