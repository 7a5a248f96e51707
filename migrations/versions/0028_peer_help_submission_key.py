"""Peer help forms carry a submission key, unique per course and recorder: a form sent twice (a double click, a
retried request) records the help once, as experiment and kudos forms do. Rows recorded before have none.

Revision ID: 0028
Revises: 0027
"""
import sqlalchemy as sa
from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("peer_help") as batch:
        batch.add_column(sa.Column("submission_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_peer_help_submission", ["course_id", "recorded_by_id", "submission_key"])


def downgrade():
    with op.batch_alter_table("peer_help") as batch:
        batch.drop_constraint("uq_peer_help_submission", type_="unique")
        batch.drop_column("submission_key")
