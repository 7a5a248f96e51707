"""Award path indexes: an author's experiments by course and date (their recent entries), a person's ledger
entries by course and rule (their past awards per rule)

Revision ID: 0026
Revises: 0025
"""
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_experiment_author_created", "experiment", ["user_id", "course_id", "created_at"])
    op.drop_index("ix_experiment_user_course", table_name="experiment")
    op.create_index("ix_ledger_course_user_rule", "ledger_entry", ["course_id", "user_id", "rule_id"])
    op.drop_index("ix_ledger_course_user", table_name="ledger_entry")


def downgrade():
    op.create_index("ix_ledger_course_user", "ledger_entry", ["course_id", "user_id"])
    op.drop_index("ix_ledger_course_user_rule", table_name="ledger_entry")
    op.create_index("ix_experiment_user_course", "experiment", ["user_id", "course_id"])
    op.drop_index("ix_experiment_author_created", table_name="experiment")
