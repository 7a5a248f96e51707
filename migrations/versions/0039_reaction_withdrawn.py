"""A reaction can be taken back: its row stays, marked with when it was withdrawn, so giving it again restores the
same row (its author was credited for it once, and is not credited again) and counts leave it out meanwhile.

Revision ID: 0039
Revises: 0038
"""
import sqlalchemy as sa
from alembic import op

from plugin.core.db import UTCDateTime

revision = '0039'
down_revision = '0038'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reaction") as batch:
        batch.add_column(sa.Column("withdrawn_at", UTCDateTime(), nullable=True))


def downgrade():
    # A withdrawn reaction goes: before this revision a reaction, once there, was counted.
    op.execute("DELETE FROM reaction WHERE withdrawn_at IS NOT NULL")
    with op.batch_alter_table("reaction") as batch:
        batch.drop_column("withdrawn_at")
