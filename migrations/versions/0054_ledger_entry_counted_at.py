"""When the daily cap and the rules' windows count a ledger entry (ledger_entry.counted_at), where that is not when it
was posted: a recalculation (a replay applied, the settlement of a revoked kudos or badge) posts today what an award
earned earlier pays, and reverses entries today. Counted when posted, a recalculation's new entries filled today's
points cap (a learner's first entry of the day then earned nothing) and moved the time of a rule's last award to today
(a cooldown or a once-per-window rule then refused the next award). Its entries now count when the recalculation
counted the award, and its reversals take their entries' points out of the day those were counted in.

Entries posted before this revision have none: they count when they were posted, as before.

Revision ID: 0054
Revises: 0053
"""
import sqlalchemy as sa
from alembic import op

from plugin.core.db import UTCDateTime

revision = '0054'
down_revision = '0053'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("ledger_entry") as batch:
        batch.add_column(sa.Column("counted_at", UTCDateTime(), nullable=True))


def downgrade():
    # The points per quarter hour then count a recalculation's entries when they were posted again (as the code
    # before this revision writes them): rebuilt from the ledger that way by `flask ledger rebuild-aggregates`.
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_column("counted_at")
