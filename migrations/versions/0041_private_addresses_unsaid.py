"""Deliveries' errors and notes and courses' roster statuses stored before 2026-12-02 named the private network address
a refused host resolved to ("private address (10.1.2.3)"); Tinker's messages no longer do (the operator's log has it),
so the stored texts lose the address too and read as the messages now say them (in the reader's language).

Revision ID: 0041
Revises: 0040
"""
import re

import sqlalchemy as sa
from alembic import op

revision = '0041'
down_revision = '0040'
branch_labels = None
depends_on = None

_NAMED = re.compile(r"private (?:network )?address \([^()]*\)")
_COLUMNS = (("outbox_item", "last_error"), ("outbox_item", "note"), ("course", "roster_status"))


def upgrade():
    bind = op.get_bind()
    for table, column in _COLUMNS:
        rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} LIKE :named"),
                            {"named": "%private%address (%"})
        for row_id, said in rows.all():
            unsaid = _NAMED.sub("private network address", said)
            if unsaid != said:
                bind.execute(sa.text(f"UPDATE {table} SET {column} = :said WHERE id = :id"),
                             {"said": unsaid, "id": row_id})


def downgrade():
    pass  # the addresses are not kept anywhere to put back (the log has them)
