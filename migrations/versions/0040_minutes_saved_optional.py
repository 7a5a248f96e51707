"""An experiment's minutes saved may be left blank (not estimated), which figures of time saved leave out; until now
a blank was stored as 0, a claim of no time saved that pulled medians down. Entries logged before keep their 0s (a
blank then cannot be told from a 0 now).

Revision ID: 0040
Revises: 0039
"""
import sqlalchemy as sa
from alembic import op

revision = '0040'
down_revision = '0039'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("experiment") as batch:
        batch.alter_column("minutes_saved", existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("UPDATE experiment SET minutes_saved = 0 WHERE minutes_saved IS NULL")
    with op.batch_alter_table("experiment") as batch:
        batch.alter_column("minutes_saved", existing_type=sa.Integer(), nullable=False)
