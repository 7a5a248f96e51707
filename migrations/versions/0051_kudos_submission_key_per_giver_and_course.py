"""A kudos form's submission key is unique per course and giver, as experiment, peer help and challenge forms' are:
it was unique across the whole deployment, so a key a manager (or an API client) used again in another course gave
back the first course's kudos, and another giver's key was refused as "already used".

Revision ID: 0051
Revises: 0050
"""
from alembic import op

revision = '0051'
down_revision = '0050'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("kudos") as batch:
        batch.drop_constraint("uq_kudos_submission_key", type_="unique")
        batch.create_unique_constraint("uq_kudos_submission", ["course_id", "giver_id", "submission_key"])


def downgrade():
    with op.batch_alter_table("kudos") as batch:
        batch.drop_constraint("uq_kudos_submission", type_="unique")
        batch.create_unique_constraint("uq_kudos_submission_key", ["submission_key"])
