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


def upgrade():
    with op.batch_alter_table("outbox_item") as batch:
        batch.add_column(sa.Column("lane", sa.String(length=120), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_item") as batch:
        batch.drop_column("lane")
