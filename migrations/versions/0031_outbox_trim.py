"""Outbox rows remember when their payload was trimmed (delivered or dismissed longer than TINKER_OUTBOX_KEEP_DAYS:
bodies, e-mail addresses and statement details go, the key and what pages read stay), with an index the trim's
batches and the operator's status report range over.

Revision ID: 0031
Revises: 0030
"""
import sqlalchemy as sa
from alembic import op

from plugin.core.db import UTCDateTime

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_item") as batch:
        batch.add_column(sa.Column("trimmed_at", UTCDateTime(), nullable=True))
    op.create_index("ix_outbox_finished", "outbox_item", ["status", "trimmed_at", "updated_at"])


def downgrade():
    op.drop_index("ix_outbox_finished", table_name="outbox_item")
    with op.batch_alter_table("outbox_item") as batch:
        batch.drop_column("trimmed_at")
