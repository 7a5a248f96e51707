"""Person names and course titles and labels stored before names were tidied (plugin/core/names.py: NFC, control
characters as spaces, single spaces) are tidied, as a launch (lti/claim_values.text) and a roster sync now store them.
Until now they were tidied only when the person launched again or the course's roster was read again: a person who
never came back kept a name with a tab or a line break on boards, in pickers and in exports, and a name in NFD did not
sort or match beside the same name in NFC.

A name that is nothing but spaces and control characters becomes what a first launch without one stores: a person's
becomes no name (they show as "Participant N", as when the LMS withholds it), a course's title becomes its context id
and its label becomes empty. Each change is a data change (boards and progress show these names). Nothing to undo on
downgrade: the untidy forms were the same names.

The service may be running while `flask db upgrade` runs (docs/deploy.md, "Upgrading"): a launch, a roster sync or an
erasure may write a name between the batch's read and its update. Each update therefore names the value it read, and
a row whose value has changed since is left to the writer (who stored it tidy); an erased person is not read at all.

Revision ID: 0048
Revises: 0047
"""
import re
import unicodedata
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0048'
down_revision = '0047'
branch_labels = None
depends_on = None

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# table, column, the column's length, what an empty tidy form is stored as (SQL), which rows are read
_COLUMNS = (("user_account", "name", 400, "NULL", "erased_at IS NULL"),
            ("course", "title", 400, "context_id", "1 = 1"),
            ("course", "label", 200, "''", "1 = 1"))
_BATCH = 1000


def _tidy(value: str, limit: int) -> str:
    """core.names.tidy as of this revision."""
    name = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", value)).split())
    return name if len(name) <= limit else name[:limit].rstrip()


def upgrade():
    conn = op.get_bind()
    changed = set()
    for table, column, limit, empty, which in _COLUMNS:
        after = 0
        while True:  # in id order, a batch at a time: user_account may hold a large installation's every person
            rows = conn.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE id > :after AND {column} IS NOT NULL "
                                        f"AND {which} ORDER BY id LIMIT {_BATCH}"), {"after": after}).all()
            if not rows:
                break
            after = rows[-1][0]
            for row_id, value in rows:
                tidy = _tidy(value, limit)
                if tidy != value:  # only while it still holds what was read (a writer's newer value stays)
                    updated = conn.execute(sa.text(
                        f"UPDATE {table} SET {column} = COALESCE(NULLIF(:value, ''), {empty}) "
                        f"WHERE id = :id AND {column} = :read AND {which}"), {"value": tidy, "id": row_id, "read": value})
                    if updated.rowcount:
                        changed.add(table)
    if changed:
        conn.execute(sa.text("INSERT INTO data_change (changed_at, tables) VALUES (:at, :tables)"),
                     {"at": datetime.now(timezone.utc).replace(tzinfo=None), "tables": ",".join(sorted(changed))})


def downgrade():
    pass
