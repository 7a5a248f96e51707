"""A reaction can be taken back: its row stays, marked with when it was withdrawn, and counts leave it out meanwhile;
giving it again restores the same row (the rules on reactions, which count those standing and pay once or once per
window, pay nothing more for it).

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
    # A withdrawn reaction counts again (before this revision a reaction, once there, stood): kept, not deleted, since
    # ledger entries name it and the recognition history reads its experiment through it.
    with op.batch_alter_table("reaction") as batch:
        batch.drop_column("withdrawn_at")
