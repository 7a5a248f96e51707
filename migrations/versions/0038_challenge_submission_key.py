"""Challenge forms carry a submission key, unique per course and creator: the same form sent twice (a double click,
Back and send again, a retried request) creates the challenge once, as experiment, peer help and kudos forms do.
Challenges created before have none.

Revision ID: 0038
Revises: 0037
"""
import sqlalchemy as sa
from alembic import op

revision = '0038'
down_revision = '0037'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("challenge") as batch:
        batch.add_column(sa.Column("submission_key", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_challenge_submission", ["created_by_id", "course_id", "submission_key"])


def downgrade():
    with op.batch_alter_table("challenge") as batch:
        batch.drop_constraint("uq_challenge_submission", type_="unique")
        batch.drop_column("submission_key")
