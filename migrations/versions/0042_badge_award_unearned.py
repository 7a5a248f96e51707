"""A badge award taken back because what earned it was taken back (the kudos behind it revoked) is marked unearned,
apart from one a manager revoked: a once-only rule counts only the latter as already given, so the person can earn
the badge again (Tinker re-awards it then, under a key of its own). Awards revoked before this revision stay as
they were (a manager's revocation).

Revision ID: 0042
Revises: 0041
"""
import sqlalchemy as sa
from alembic import op

revision = '0042'
down_revision = '0041'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("badge_award") as batch:
        batch.add_column(sa.Column("unearned", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    # An unearned award stays revoked (its revoked_at is kept): it reads as a manager's revocation again.
    with op.batch_alter_table("badge_award") as batch:
        batch.drop_column("unearned")
