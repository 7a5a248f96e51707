"""The daily cap counts original entries only (reversals are left out): the index its read ranges over carries
reverses_id too, so the read stays within the index.

Revision ID: 0030
Revises: 0029
"""
from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None

_COLUMNS = ["course_id", "user_id", "source_type", "created_at", "amount"]


def upgrade():
    op.drop_index("ix_ledger_course_user_source_day", table_name="ledger_entry")
    op.create_index("ix_ledger_course_user_source_day", "ledger_entry", [*_COLUMNS, "reverses_id"])


def downgrade():
    op.drop_index("ix_ledger_course_user_source_day", table_name="ledger_entry")
    op.create_index("ix_ledger_course_user_source_day", "ledger_entry", _COLUMNS)
