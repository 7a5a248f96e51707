"""Names stored before names were tidied (plugin/core/names.py: NFC, control characters as spaces, single spaces)
are tidied: the organisations' list items (AI tools, task categories, values) and the courses' teams, with the
name copies team boards order by. What these are found by (a name sent again, the same item added twice) compares
tidied names, so one stored untidy would be missed and a second item made beside it.

A name is left as it is where its tidy form is another's of the same list or course already, whatever the case
(the two stay apart, as they were). Each rename is a data change (boards, progress and insights show the names).
Nothing to undo on downgrade: the untidy forms were the same names.

Revision ID: 0047
Revises: 0046
"""
import re
import unicodedata
from collections import defaultdict
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = '0047'
down_revision = '0046'
branch_labels = None
depends_on = None

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# table, the column names are unique within, the column's length
_LISTS = (("ai_tool", "organisation_id", 100), ("task_category", "organisation_id", 100),
          ("value_tag", "organisation_id", 100), ("team", "course_id", 200))


def _tidy(value: str, limit: int) -> str:
    """core.names.tidy as of this revision."""
    name = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", value)).split())
    return name if len(name) <= limit else name[:limit].rstrip()


def _key(value: str) -> str:
    """core.text_fold.key as of this revision: how names are compared, whatever their case."""
    return _tidy(value, 10**6).replace("İ", "i").replace("I", "i").casefold().replace("\u0307", "").replace(
        "\u0131", "i")


def upgrade():
    conn = op.get_bind()
    renamed = []
    for table, scope, limit in _LISTS:
        rows = conn.execute(sa.text(f"SELECT id, {scope}, name FROM {table} ORDER BY id")).all()
        holders = defaultdict(lambda: defaultdict(int))  # scope -> name key (tidy already) -> how many hold it
        for _id, scope_id, name in rows:
            holders[scope_id][_key(name)] += 1
        for row_id, scope_id, name in rows:
            tidy = _tidy(name, limit)
            if tidy == name or not tidy or holders[scope_id][_key(name)] > 1:
                continue  # tidy already; nothing but spaces; or another of the list holds it: both stay as they were
            conn.execute(sa.text(f"UPDATE {table} SET name = :name WHERE id = :id"), {"name": tidy, "id": row_id})
            if table == "team":
                conn.execute(sa.text("UPDATE team_standing SET name = :name WHERE team_id = :id"),
                             {"name": tidy, "id": row_id})
            renamed.append(table)
    if renamed:
        conn.execute(sa.text("INSERT INTO data_change (changed_at, tables) VALUES (:at, :tables)"),
                     {"at": datetime.now(timezone.utc).replace(tzinfo=None),
                      "tables": ",".join(sorted(set(renamed)))})


def downgrade():
    pass
