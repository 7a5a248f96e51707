"""Outbox rows name their lane: the receiver a delivery goes to (a webhook endpoint, an organisation's LRS, a course's
platform, the SMTP server). The worker takes due deliveries lane by lane in turn, so one receiver's backlog never
keeps another organisation's deliveries waiting, and a receiver that fails holds only its own lane. Rows queued
before this revision have none: each is its own lane.

Revision ID: 0034
Revises: 0033
"""
import sqlalchemy as sa
from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


PENDING = sa.text("status = 'pending'")
OWN_LANE = sa.text("status = 'pending' AND lane IS NULL")


def upgrade():
    with op.batch_alter_table("outbox_item") as batch:
        batch.add_column(sa.Column("lane", sa.String(length=120), nullable=True))
    op.create_index("ix_outbox_lane_pending", "outbox_item", ["lane", "next_attempt_at", "attempts", "id"],
                    postgresql_where=PENDING, sqlite_where=PENDING)
    op.create_index("ix_outbox_own_lane_pending", "outbox_item", ["next_attempt_at", "id"],
                    postgresql_where=OWN_LANE, sqlite_where=OWN_LANE)


def downgrade():
    op.drop_index("ix_outbox_own_lane_pending", table_name="outbox_item")
    op.drop_index("ix_outbox_lane_pending", table_name="outbox_item")
    with op.batch_alter_table("outbox_item") as batch:
        batch.drop_column("lane")
