"""Experiment tallies: per course, person and bucket, how many of their experiments count there (facts.tallies),
filled from the experiments already logged; a person's ledger entries by source and time (the daily cap's read)

Revision ID: 0027
Revises: 0026
"""
from datetime import timezone

import sqlalchemy as sa
from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

BATCH = 20_000


def _buckets(tool_id, category_id, created_at, outcome, visibility, reflection_chars):
    # facts.tallies.buckets as it stood at this revision (a migration never imports code that may change later).
    tool = "other" if tool_id is None else str(tool_id)
    if isinstance(created_at, str):  # SQLite hands the stored text back
        from datetime import datetime
        created_at = datetime.fromisoformat(created_at)
    day = (created_at if created_at.tzinfo is None else created_at.astimezone(timezone.utc)).date().isoformat()
    counted = {"n": 1, f"tool:{tool}": 1, f"day:{day}": 1}
    if category_id is not None:
        counted[f"cat:{category_id}"] = 1
        counted[f"tc:{tool}:{category_id}:{day}"] = 1
    if visibility != "private":
        counted["shared"] = 1
        if outcome == "failed":
            counted[f"fsr:{min(max(int(reflection_chars or 0), 0), 99999):05d}"] = 1
    return counted


def upgrade():
    tally = op.create_table(
        "experiment_tally",
        sa.Column("course_id", sa.Integer(), sa.ForeignKey("course.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user_account.id", ondelete="CASCADE"), nullable=False),
        sa.Column("bucket", sa.String(length=80), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("course_id", "user_id", "bucket"),
    )
    bind = op.get_bind()
    batch: list[dict] = []
    person, counted = None, {}

    def flush_person():
        for bucket, value in sorted(counted.items()):
            batch.append({"course_id": person[0], "user_id": person[1], "bucket": bucket, "value": value})

    # Person by person (the author index gives the order), the rows streamed: one person's buckets in memory at a
    # time, however many experiments an installation holds.
    for row in bind.execute(sa.text(
            "SELECT course_id, user_id, ai_tool_id, task_category_id, created_at, outcome, visibility, "
            "reflection_chars FROM experiment WHERE duplicate_of_id IS NULL ORDER BY user_id, course_id")
            .execution_options(stream_results=True, max_row_buffer=BATCH)):  # PostgreSQL: a server-side cursor
        if (row[0], row[1]) != person:
            if person is not None:
                flush_person()
            person, counted = (row[0], row[1]), {}
            if len(batch) >= BATCH:
                op.bulk_insert(tally, batch)
                batch.clear()
        for bucket, value in _buckets(*row[2:]).items():
            counted[bucket] = counted.get(bucket, 0) + value
    if person is not None:
        flush_person()
    if batch:
        op.bulk_insert(tally, batch)
    op.create_index("ix_ledger_course_user_source_day", "ledger_entry",
                    ["course_id", "user_id", "source_type", "created_at", "amount"])


def downgrade():
    op.drop_index("ix_ledger_course_user_source_day", table_name="ledger_entry")
    op.drop_table("experiment_tally")
