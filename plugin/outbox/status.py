"""The operator's view of the whole outbox (`flask outbox status`) and its repair (`flask outbox retry`, `flask outbox
dismiss`): every kind, every course, including the kinds no page shows (a deferred challenge completion, e-mail)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, literal_column, or_, select

from plugin.extensions import db
from plugin.outbox import messages as said
from plugin.outbox.models import DISMISSED, DONE, FAILED, PENDING, OutboxItem
from plugin.outbox.registry import kinds as handled_kinds
from plugin.outbox.registry import lane_names
from plugin.outbox.retention import FINISHED, kept_for, past_keeping
from plugin.outbox.service import _due, dismiss_failed_where, retry_failed_where

RECENT = timedelta(hours=24)  # how far back delivered ones are counted
# how the error of a delivery left unsent because its receiver had just failed on another one begins, as stored
_HELD_PREFIX = said.RETRY(message=said.RECEIVER_FAILED(error="\x00")).split("\x00")[0]


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
class Receiver:
    """A receiver (an outbox lane: `webhook:<endpoint id>`, `xapi:<organisation id>`, `ags:<platform id>`, `email`;
    "(kind)" for deliveries without one) whose deliveries are being retried: how many of its deliveries wait
    (`pending`), how many of them have failed a try (`retrying`), the most tries any has had, when it was last
    tried, when the next try is due, the error of its most recent failed try, and its name (an endpoint's host and
    organisation, an LMS's issuer)."""
    lane: str
    pending: int
    retrying: int
    attempts: int
    last_tried: datetime
    next_try: datetime
    last_error: str | None
    name: str | None = None  # what the operator knows the receiver by (its package's lane namer), where known


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
    receivers: list[Receiver]  # the receivers failing now, the most deliveries retrying first

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
    left out by the WHERE), the `limit` most recently failed deliveries, the trim's backlog and the receivers failing
    now (at most `limit`)."""
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
                  _backlog(now), failing_receivers(limit))


def failing_receivers(limit: int = 20) -> list[Receiver]:
    """The receivers (lanes) with pending deliveries that failed a try, the most such deliveries first, at most
    `limit`: one grouped pass over the pending rows, then for each receiver listed the error of its most recently
    tried delivery (one index range of its lane). A delivery without a lane is its own receiver: those are shown
    together per kind."""
    if not limit:
        return []
    item = OutboxItem.__table__.c
    lane = func.coalesce(item.lane, "(" + item.kind + ")")
    # a try that failed: one on its way (counted before it runs, service._start) has no error yet and is no failure
    tried = and_(item.attempts > 0, item.last_error.is_not(None))
    retrying = func.count(case((tried, 1)))
    last_tried = func.max(case((tried, item.updated_at)))
    rows = db.session.execute(select(
        lane.label("lane"), item.lane.label("own"), func.min(item.kind).label("kind"), func.count(), retrying,
        func.max(item.attempts), last_tried, func.min(item.next_attempt_at))
        .where(item.status == PENDING).group_by(lane, item.lane).having(retrying > 0)
        .order_by(retrying.desc(), last_tried.desc(), lane).limit(limit)).all()
    # the error shown: of the lane's delivery tried last that met the receiver itself, not one left unsent because of
    # it (whose error quotes the other's, after a prefix that would take the line)
    held = item.last_error.startswith(_HELD_PREFIX, autoescape=True)
    # 'pending' written into the statement: a prepared statement's generic plan must see it to use the lane's partial
    # index (ix_outbox_lane_pending), else each receiver's error reads the whole table
    latest = (select(item.last_error).where(item.status == literal_column(f"'{PENDING}'"), tried)
              .order_by(case((held, 1), else_=0), item.updated_at.desc(), item.id.desc()).limit(1))
    names = lane_names([row.lane for row in rows])
    return [Receiver(row.lane, *row[3:], last_error=db.session.scalar(
        latest.where(item.lane == row.own) if row.own is not None else latest.where(item.lane.is_(None),
                                                                                    item.kind == row.kind)),
        name=names.get(row.lane)) for row in rows]


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
