"""B7's floor: what an award writes at the least, without rules or any of the project's aggregates: the
experiment row, one ledger entry and the person's total, with statements built once and executed with parameters,
as a careful hand-written writer would. bench/ledger.py times it in process (1 client) and bench/writers.py's
writer processes (4 clients); the caller commits, one transaction per award as the project's path has."""
from __future__ import annotations

import secrets
from collections.abc import Callable

_STATEMENTS: dict[str, object] = {}


def floor_writer(organisation_id: int, course_id: int, user_id: int, tool_id: int, category_id: int,
                 experiment: bool = True) -> Callable[[int], None]:
    """A function inserting award number i for the person (`experiment` False: the ledger entry and the total
    only, the ledger-only floor sessions before 2026-11-29 measured against). Call it in an app context."""
    import sqlalchemy as sa

    from plugin.core.clock import utcnow
    from plugin.core.db import upsert_increment
    from plugin.experiments.models import Experiment
    from plugin.extensions import db
    from plugin.ledger.models import LedgerEntry, PointsTotal

    if not _STATEMENTS:
        _STATEMENTS["experiment"] = sa.insert(Experiment.__table__)
        _STATEMENTS["entry"] = sa.insert(LedgerEntry.__table__)
    insert_experiment, insert_entry = _STATEMENTS["experiment"], _STATEMENTS["entry"]
    run = secrets.token_hex(4)  # keys stay unique across rounds and processes writing for the same person

    def insert(i: int) -> None:
        if experiment:
            db.session.execute(insert_experiment, {
                "organisation_id": organisation_id, "course_id": course_id, "user_id": user_id,
                "submission_key": secrets.token_hex(8), "title": f"Experiment {i}", "ai_tool_id": tool_id,
                "task_category_id": category_id, "tried": " ".join(secrets.token_hex(3) for _ in range(8)),
                "outcome": "worked", "learned": "", "minutes_saved": 0, "sensitive_data": "no",
                "visibility": "course", "created_at": utcnow(), "anonymous": False, "reflection_chars": 0,
                "coaching": ""})
        db.session.execute(insert_entry, {
            "idempotency_key": f"raw:{user_id}:{run}:{i}", "organisation_id": organisation_id,
            "course_id": course_id, "user_id": user_id, "amount": 10, "dimension": "experimenting",
            "source_type": "bench", "source_id": i, "created_at": utcnow()})
        upsert_increment(db.session, PointsTotal.__table__, {"course_id": course_id, "user_id": user_id,
                                                             "dimension": "total"}, {"points": 10})

    return insert
