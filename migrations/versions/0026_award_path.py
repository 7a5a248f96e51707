"""An author's experiments indexed by course and date (the award path's reads of their recent entries)

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


def downgrade():
    op.create_index("ix_experiment_user_course", "experiment", ["user_id", "course_id"])
    op.drop_index("ix_experiment_author_created", table_name="experiment")
