"""A watch on the award's held-back rows (plugin/ledger/pending.py), for every test on PostgreSQL: while an experiment's
award holds its rows for its one write at the end, no statement may read the tables they go to (it would not see them).
Whatever reads them must call pending.flush() first; a statement that does not fails the test that sent it."""
from __future__ import annotations

import re

import sqlalchemy as sa

from plugin.ledger.pending import TABLES

_HELD_TABLES = re.compile(r"\b(" + "|".join(TABLES) + r")\b")


def watch(engine) -> None:
    if engine.dialect.name == "postgresql" and not sa.event.contains(engine, "before_cursor_execute", _check):
        sa.event.listen(engine, "before_cursor_execute", _check)


def _check(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
    from flask import has_app_context

    from plugin.experiments import award_write
    from plugin.ledger import pending

    if not has_app_context():
        return
    state = pending.current()
    if state is None or not state.rows or award_write.is_award_write(statement):
        return
    found = _HELD_TABLES.search(statement)
    if found:
        raise AssertionError(f"a statement reads {found.group(1)} while an award holds rows for it back: "
                             f"call ledger.pending.flush() before it\n{statement[:600]}")
