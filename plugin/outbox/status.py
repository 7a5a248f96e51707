"""The operator's view of the whole outbox (`flask outbox status`) and its repair (`flask outbox retry`, `flask outbox
dismiss`): every kind, every course, including the kinds no page shows (a deferred challenge completion, e-mail)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select

from plugin.extensions import db
from plugin.outbox.models import DISMISSED, DONE, FAILED, PENDING, OutboxItem
from plugin.outbox.registry import kinds as handled_kinds
from plugin.outbox.retention import FINISHED, kept_for, past_keeping
from plugin.outbox.service import _due, dismiss_failed_where, retry_failed_where

RECENT = timedelta(hours=24)  # how far back delivered ones are counted


@dataclass
class KindStatus:
    """One kind's deliveries: waiting (of which due now, the oldest due since when), being sent, given up,
    delivered within RECENT and dismissed by the operator within RECENT. `handled`: this instance has a handler
    for it (else its deliveries wait for one that does)."""
    kind: str
    handled: bool = True
    pending: int = 0
    due: int = 0
    oldest_due: datetime | None = None
    in_flight: int = 0
    failed: int = 0
    done_recently: int = 0
    dismissed_recently: int = 0

    def add(self, other: KindStatus) -> None:
        for name in ("pending", "due", "in_flight", "failed", "done_recently", "dismissed_recently"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.oldest_due is not None and (self.oldest_due is None or other.oldest_due < self.oldest_due):
            self.oldest_due = other.oldest_due


@dataclass(frozen=True)
class Failure:
    id: int
    kind: str
    course_id: int | None
    attempts: int
    updated_at: datetime
    last_error: str | None


@dataclass(frozen=True)
class Backlog:
    """Finished deliveries past the keeping time whose bodies are still to be trimmed (plugin/outbox/retention.py):
    how many, and finished since when. A few minutes' worth is normal (the minutely run trims them); a growing
    count means no `flask outbox run` is trimming."""
    keep_days: int
    untrimmed: int
    oldest: datetime | None


@dataclass(frozen=True)
class Status:
    now: datetime
    kinds: list[KindStatus]  # by name: every kind this instance handles, and any other the table holds
    failures: list[Failure]  # the most recently failed first
    trim: Backlog

    @property
    def total(self) -> KindStatus:
        total = KindStatus("total")
        for row in self.kinds:
            total.add(row)
        return total


def _count(condition):
    return func.count(case((condition, 1)))


def outbox_status(now: datetime, limit: int = 20) -> Status:
    """Counts per kind in one grouped pass over the table (finished rows older than RECENT, the bulk of it, are
    left out by the WHERE), the `limit` most recently failed deliveries, and the trim's backlog."""
    due = and_(*_due(now))
    unclaimed = or_(OutboxItem.locked_until.is_(None), OutboxItem.locked_until < now)  # or its worker's lease ran out
    in_flight = and_(OutboxItem.status == PENDING, OutboxItem.locked_until >= now)
    since = now - RECENT
    counted = ("pending", "due", "oldest_due", "in_flight", "failed", "done_recently", "dismissed_recently")
    rows = db.session.execute(select(
        OutboxItem.kind, _count(and_(OutboxItem.status == PENDING, unclaimed)), _count(due),
        func.min(case((due, OutboxItem.next_attempt_at))), _count(in_flight), _count(OutboxItem.status == FAILED),
        _count(OutboxItem.status == DONE), _count(OutboxItem.status == DISMISSED)).where(or_(
            OutboxItem.status.in_((PENDING, FAILED)),
            # finished within RECENT: none of those is trimmed yet (ix_outbox_finished ranges over exactly these)
            *(and_(OutboxItem.status == status, OutboxItem.trimmed_at.is_(None), OutboxItem.updated_at >= since)
              for status in FINISHED)))
        .group_by(OutboxItem.kind)).all()
    handled = set(handled_kinds())
    by_kind = {kind: KindStatus(kind) for kind in handled}
    for kind, *values in rows:
        by_kind[kind] = KindStatus(kind, kind in handled, **dict(zip(counted, values)))
    failures = db.session.execute(select(
        OutboxItem.id, OutboxItem.kind, OutboxItem.course_id, OutboxItem.attempts, OutboxItem.updated_at,
        OutboxItem.last_error).where(OutboxItem.status == FAILED)
        .order_by(OutboxItem.updated_at.desc(), OutboxItem.id.desc()).limit(limit)).all() if limit else []
    return Status(now, [by_kind[kind] for kind in sorted(by_kind)], [Failure(*row) for row in failures],
                  _backlog(now))


def _backlog(now: datetime) -> Backlog:
    kept = kept_for()
    untrimmed, oldest = 0, None
    for status in FINISHED:  # one index range each, as the trim reads them
        count, first = db.session.execute(select(func.count(), func.min(OutboxItem.updated_at)).where(
            *past_keeping(status, now - kept))).one()
        untrimmed += count
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    return Backlog(kept.days, untrimmed, oldest)


def _chosen(kinds: Iterable[str], course_id: int | None, ids: Iterable[int]) -> list:
    kinds, ids, conditions = list(kinds), list(ids), []
    if kinds:
        conditions.append(OutboxItem.kind.in_(kinds))
    if course_id is not None:
        conditions.append(OutboxItem.course_id == course_id)
    if ids:
        conditions.append(OutboxItem.id.in_(ids))
    return conditions


def retry_failed_deliveries(now: datetime, *, kinds: Iterable[str] = (), course_id: int | None = None,
                            ids: Iterable[int] = ()) -> int:
    """Make the failed deliveries of these kinds, of this course and with these ids (each filter given) due again
    with a fresh count of attempts, as a course's own retry does; none given: every failed delivery. Returns how
    many; the caller commits."""
    return retry_failed_where(now, *_chosen(kinds, course_id, ids))


def dismiss_failed_deliveries(now: datetime, *, kinds: Iterable[str] = (), course_id: int | None = None,
                              ids: Iterable[int] = ()) -> int:
    """Mark the failed deliveries these filters choose (as for retry) as not to be sent. Returns how many; the caller
    commits."""
    return dismiss_failed_where(now, *_chosen(kinds, course_id, ids))
