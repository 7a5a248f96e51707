"""When an experiment logged private was first shared (experiment.shared_at): its sharing rules are paid then, under
that day's points cap, and a replay now pays them there too. It saw such an entry shared when logged: it found the
logging day's room, reported points owed that the day of sharing had held back, and counted them in the wrong day's
cap. Entries shared before this revision keep none (a replay sees them shared when logged, as before).

Revision ID: 0052
Revises: 0051
"""
import sqlalchemy as sa
from alembic import op

from plugin.core.db import UTCDateTime

revision = '0052'
down_revision = '0051'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("experiment") as batch:
        batch.add_column(sa.Column("shared_at", UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("experiment") as batch:
        batch.drop_column("shared_at")
