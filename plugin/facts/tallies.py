"""experiment_tally (facts.models): which buckets an experiment counts in, and the writes that keep them.

Written in the transaction that logs the experiment (experiments.service: on PostgreSQL inside the statement
that inserts it, from the arrays `as_arrays` gives) and when its author widens or narrows who sees it
(`shared_changed`); recomputed from the experiments by leaderboards.rebuild. Near-duplicates count nowhere: the
rules leave them out.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timezone

from plugin.core.db import Hot, HotRows, dialect_name, insert_for_dialect
from plugin.experiments.models import Outcome, Visibility
from plugin.extensions import db
from plugin.facts.models import ExperimentTally

T = ExperimentTally.__table__
# A bucket range ends before "~", which sorts after every digit and letter a bucket's key holds.
END = "~"
REFLECTION_DIGITS = 5


def tool_text(tool_id: int | None) -> str:
    return "other" if tool_id is None else str(tool_id)


TOOL, CATEGORY = "tool:", "cat:"  # the prefixes of the per-tool and per-category buckets


def tool_bucket(tool: str) -> str:
    return f"{TOOL}{tool}"


def category_bucket(category_id: int | None) -> str:
    return f"{CATEGORY}{category_id}"


def day_bucket(day: date) -> str:
    return f"day:{day.isoformat()}"


def tool_category_prefix(tool: str, category_id: int | None) -> str:
    return f"tc:{tool}:{category_id}:"


def reflection_bucket(chars: int) -> str:
    return f"fsr:{min(max(int(chars or 0), 0), 10**REFLECTION_DIGITS - 1):0{REFLECTION_DIGITS}d}"


def _utc_day(at: datetime) -> date:
    return (at if at.tzinfo is None else at.astimezone(timezone.utc)).date()


def _shared_part(outcome: str, reflection_chars: int | None) -> dict[str, int]:
    part = {"shared": 1}
    if outcome == Outcome.FAILED.value:
        part[reflection_bucket(reflection_chars or 0)] = 1
    return part


def buckets(tool_id: int | None, category_id: int | None, created_at: datetime, outcome: str, visibility: str,
            reflection_chars: int | None) -> dict[str, int]:
    """The buckets one (not near-duplicate) experiment adds 1 to."""
    tool, day = tool_text(tool_id), _utc_day(created_at)
    counted = {"n": 1, tool_bucket(tool): 1, day_bucket(day): 1}
    if category_id is not None:  # as the rules count: an entry without a category is of no kind of task
        counted[category_bucket(category_id)] = 1
        counted[tool_category_prefix(tool, category_id) + day.isoformat()] = 1
    if visibility != Visibility.PRIVATE.value:
        counted.update(_shared_part(outcome, reflection_chars))
    return counted


def of_row(row: dict) -> dict[str, int]:
    """buckets() of an experiment row as log_experiment builds it (none for a near-duplicate)."""
    if row.get("duplicate_of_id") is not None:
        return {}
    return buckets(row["ai_tool_id"], row["task_category_id"], row["created_at"], row["outcome"], row["visibility"],
                   row["reflection_chars"])


def as_arrays(counted: dict[str, int]) -> dict[str, list]:
    """Parameters of the PostgreSQL insert statement's tally rows (sorted: writers lock rows in one order)."""
    ordered = sorted(counted.items())
    return {"tally_buckets": [b for b, _ in ordered], "tally_values": [v for _, v in ordered]}


def _upsert(ins):
    return ins.on_conflict_do_update(index_elements=["course_id", "user_id", "bucket"],
                                     set_={"value": T.c.value + ins.excluded.value})


_ADD = Hot(lambda dialect: _upsert(insert_for_dialect(dialect, T)), writes=(T.name,))  # PostgreSQL: an executemany
_ADD_ROWS = HotRows(T, ("course_id", "user_id", "bucket", "value"), _upsert, writes=(T.name,))  # SQLite


def add(course_id: int, user_id: int, counted: dict[str, int]) -> None:
    """Add to the person's buckets (one statement), keys sorted so concurrent writers lock in the same order."""
    if dialect_name(db.session) == "sqlite":
        rows = [(course_id, user_id, b, v) for b, v in sorted(counted.items()) if v]
        if rows:
            _ADD_ROWS.execute(db.session, rows)
        return
    rows = [{"course_id": course_id, "user_id": user_id, "bucket": b, "value": v}
            for b, v in sorted(counted.items()) if v]
    if rows:
        _ADD.execute(db.session, many=rows)


def shared_changed(experiment, now_shared: bool) -> None:
    """The author made an experiment visible to others (or private again): its shared buckets follow."""
    if experiment.duplicate_of_id is not None:
        return
    step = 1 if now_shared else -1
    add(experiment.course_id, experiment.user_id,
        {b: step for b in _shared_part(experiment.outcome, experiment.reflection_chars)})


def rebuilt(experiments: Iterable) -> Iterator[dict]:
    """Every tally row from experiment rows (course_id, user_id, ai_tool_id, task_category_id, created_at, outcome,
    visibility, reflection_chars, duplicate_of_id) given person by person (ordered by user and course): one
    person's buckets are held at a time, however many experiments there are."""
    person, counted = None, {}
    for e in experiments:
        if (e.course_id, e.user_id) != person:
            yield from _rows(person, counted)
            person, counted = (e.course_id, e.user_id), {}
        if e.duplicate_of_id is not None:
            continue
        for bucket, value in buckets(e.ai_tool_id, e.task_category_id, e.created_at, e.outcome, e.visibility,
                                     e.reflection_chars).items():
            counted[bucket] = counted.get(bucket, 0) + value
    yield from _rows(person, counted)


def _rows(person, counted: dict[str, int]) -> Iterator[dict]:
    for bucket, value in sorted(counted.items()):
        yield {"course_id": person[0], "user_id": person[1], "bucket": bucket, "value": value}
