"""The outbox (deliveries to the outside world, sent after commit) and per-course grade sync settings."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.core.db import UTCDateTime
from plugin.extensions import db

PENDING, DONE, FAILED = "pending", "done", "failed"
# Failed, and the operator decided it is not to be sent (`flask outbox dismiss`): no page offers to send it again.
DISMISSED = "dismissed"


class OutboxItem(db.Model):
    """One delivery. The dedupe key is unique: the same delivery is enqueued once (or coalesced to the
    latest payload when the caller asks for replacement). A claim (token + lease) marks it in flight. Once delivered
    (or dismissed) for longer than the outbox keeps bodies, its payload is trimmed to what pages and later deliveries
    still read (plugin/outbox/retention.py) and `trimmed_at` says when; the row and its key stay."""

    __tablename__ = "outbox_item"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      # a claim's loose scan of the lanes with pending deliveries, and each lane's in turn (PostgreSQL:
                      # service._PG_CLAIM); the deliveries of no lane by when they are due
                      Index("ix_outbox_lane_pending", "lane", "next_attempt_at", "attempts", "id",
                            postgresql_where=text("status = 'pending'"), sqlite_where=text("status = 'pending'")),
                      Index("ix_outbox_own_lane_pending", "next_attempt_at", "id",
                            postgresql_where=text("status = 'pending' AND lane IS NULL"),
                            sqlite_where=text("status = 'pending' AND lane IS NULL")),
                      # the trim's batches (finished, untrimmed, oldest first) and the status report's "done in 24 h"
                      Index("ix_outbox_finished", "status", "trimmed_at", "updated_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    # The receiver it goes to ("webhook:<endpoint>", "xapi:<organisation>", "ags:<platform>", "email", ...): the worker
    # takes lanes in turn, and a failed try holds the rest of its lane for the batch (service.process_due). None
    # for rows queued before lanes existed: each is its own lane.
    lane: Mapped[str | None] = mapped_column(String(120))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)  # bumped when a replacement payload arrives
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    trimmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GradeSync(db.Model):
    """A course's opt-in to grade sync (AGS): what is pushed and where the line item lives."""

    __tablename__ = "grade_sync"
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    mode: Mapped[str] = mapped_column(String(20), default="points")  # points | progress
    lineitems_url: Mapped[str | None] = mapped_column(String(1000))
    lineitem_url: Mapped[str | None] = mapped_column(String(1000))
    score_maximum: Mapped[int] = mapped_column(default=100)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
