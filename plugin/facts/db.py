"""The rules' Facts answered from the database, for one person in one course.

A read model over the domain tables: it sits above them (experiments, peer help, kudos, the community
library, the ledger), so the pure rule engine below never imports them.

Held-back rows of an experiment's award (ledger/pending.py) are written before any question goes to the
database.

Every rule of an event asks here, so each question is a statement built once (per shape of its filters,
with bind parameters) and what several rules ask about the same rows is read together: one grouped query
for every rule's past awards, one summary row for the all-time experiment figures. Answers live on this
object, which lives for one event; awards just posted are forgotten through `changed()`.

The figures an experiment's rules ask on every award (all-time counts, distinct tools and categories, failed
and shared entries, days with experiments, repeats of a tool on a kind of task) come from the person's
experiment tallies (facts.tallies), so what an award reads does not grow with how many experiments the person
logged; questions with other filters still count experiments.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Integer, String, bindparam, cast, func, literal, literal_column, select

from plugin.badges.models import BadgeAward
from plugin.challenges.models import ChallengeContribution
from plugin.community.models import Reaction, Reuse
from plugin.core.db import Hot
from plugin.experiments.models import Experiment, Outcome, Visibility
from plugin.extensions import db
from plugin.facts import tallies
from plugin.facts.models import ExperimentTally
from plugin.ledger import pending
from plugin.ledger.models import (
    QUARTER_SECONDS,
    LedgerEntry,
    PointsTotal,
    QuarterPoints,
    counted_time,
    in_quarters,
    original,
    quarter_of,
    unearned,
)
from plugin.peer_help.models import CONFIRMED, PeerHelp
from plugin.recognition.models import Kudos
from plugin.rules.facts import week_start
from plugin.settings.service import time_zone
from plugin.tenancy.models import Course

X = Experiment.__table__
L = LedgerEntry.__table__
B = BadgeAward.__table__
_COURSE, _USER = bindparam("course_id"), bindparam("user_id")
_SINCE = bindparam("since", type_=X.c.created_at.type)
_MINE = (X.c.course_id == _COURSE, X.c.user_id == _USER, X.c.duplicate_of_id.is_(None))
_TOOL = func.coalesce(cast(X.c.ai_tool_id, String), "other")
_SHARED = X.c.visibility != Visibility.PRIVATE.value

# Built on first use for each shape of filters (which optional filters are set), then reused.
_built: dict[tuple, object] = {}


def _statement(key: tuple, build):
    stmt = _built.get(key)
    if stmt is None:
        stmt = _built[key] = build()
    return stmt


T = ExperimentTally.__table__
_TALLIES = (T.c.course_id == _COURSE, T.c.user_id == _USER)


def _tally_sum(low, high):
    """Their counts summed over the buckets from `low` up to (not including) `high`: a range of the primary key."""
    return select(func.coalesce(func.sum(T.c.value), 0)).where(
        *_TALLIES, T.c.bucket >= low, T.c.bucket < high).scalar_subquery()


def _tally_kinds(prefix: str):
    """How many buckets of a kind ("tool:", "cat:") hold any of their experiments."""
    return select(func.count()).select_from(T).where(
        *_TALLIES, T.c.bucket > prefix, T.c.bucket < prefix + tallies.END, T.c.value > 0).scalar_subquery()


def _summary(presence: bool = False):
    """All-time experiment figures several rules ask about, in one row, from the tallies: experiments, distinct
    tools, distinct categories, failed and shared with a reflection of at least :fsr_from's length, shared; with
    `presence`, then their counts in the :tool_bucket and :category_bucket buckets. The single buckets are read
    together, in one look-up of the keys named."""
    named = {"n": literal("n"), "shared": literal("shared")}
    if presence:
        named.update(tool=bindparam("tool_bucket"), category=bindparam("category_bucket"))
    counts = select(*[func.coalesce(func.max(T.c.value).filter(T.c.bucket == key), 0).label(name)
                      for name, key in named.items()]).where(*_TALLIES, T.c.bucket.in_(list(named.values()))
                                                             ).subquery("counts")
    return select(counts.c.n, _tally_kinds(tallies.TOOL).label("tools"), _tally_kinds(tallies.CATEGORY).label("cats"),
                  _tally_sum(bindparam("fsr_from"), "fsr:" + tallies.END).label("fsr"), counts.c.shared,
                  *((counts.c.tool, counts.c.category) if presence else ())).select_from(counts)


_SUMMARY = _summary()

_ORIGINAL = original()  # not a reversal

# A rule's award that still counts as given: not unearned (its entry reversed because its cause was taken back, or
# its badge award revoked so). What a manager revoked counts: that decision stands. An unearned once-only award may
# be earned again (rules.service.apply gives it a key of its own).
_GIVEN = ~unearned(L.c.id)
_BADGE_GIVEN = B.c.unearned.is_(False)

# Every rule's past recognitions of this person: (source, rule, times, latest).
_COUNTED = counted_time()  # when an entry counts for the rules' windows (a recalculation's: when it counted it)
_AWARDS = select(literal("ledger"), L.c.rule_id, func.count(), func.max(_COUNTED)).where(
    L.c.course_id == _COURSE, L.c.user_id == _USER, L.c.rule_id.is_not(None), _ORIGINAL, _GIVEN).group_by(
    L.c.rule_id).union_all(select(literal("badge"), B.c.rule_id, func.count(), func.max(B.c.awarded_at)).where(
        B.c.course_id == _COURSE, B.c.user_id == _USER, B.c.rule_id.is_not(None), _BADGE_GIVEN).group_by(B.c.rule_id))

_RULE_TIMES = select(literal("ledger"), _COUNTED).where(
    L.c.course_id == _COURSE, L.c.user_id == _USER, L.c.rule_id == bindparam("rule_id"),
    _ORIGINAL, _GIVEN).union_all(select(literal("badge"), B.c.awarded_at).where(
        B.c.course_id == _COURSE, B.c.user_id == _USER, B.c.rule_id == bindparam("rule_id"), _BADGE_GIVEN))

# The (UTC) days with experiments, not every experiment: a streak asks for weeks.
_WEEKS = select(func.date(X.c.created_at)).where(*_MINE).distinct()
_WEEKS_SINCE = select(func.date(X.c.created_at)).where(*_MINE, X.c.created_at >= _SINCE).distinct()
_POINTS = select(PointsTotal.__table__.c.points).where(
    PointsTotal.__table__.c.course_id == _COURSE, PointsTotal.__table__.c.user_id == _USER,
    PointsTotal.__table__.c.dimension == bindparam("dimension"))
# The points a day's awards of a source type gave (the daily cap's room): original entries only, at the moment they
# count at (a recalculation's, as it counted them), and a recalculation's reversals there. A manager's revocation
# posted that day cancels an award that may have been earned on another day; counted in, revoking yesterday's award
# would widen today's cap (replay's simulation counts awards, revoked ones too, as here).
# Read from the points per quarter hour the ledger's writers keep (ledger.models.QuarterPoints): a day of the
# organisation's calendar is whole quarter hours, so at most 96 rows, however many entries the day holds.
_Q = QuarterPoints.__table__
_DAY_POINTS = select(func.coalesce(func.sum(_Q.c.points), 0)).where(
    _Q.c.course_id == _COURSE, _Q.c.user_id == _USER, _Q.c.source_type == bindparam("source_type"),
    _Q.c.quarter >= bindparam("start_quarter", type_=Integer), _Q.c.quarter < bindparam("end_quarter", type_=Integer))
# A day that is not whole quarter hours (no time zone in use has one): its entries summed.
_DAY_POINTS_OF_ENTRIES = select(func.coalesce(func.sum(L.c.amount), 0)).where(
    L.c.course_id == _COURSE, L.c.user_id == _USER, L.c.source_type == bindparam("source_type"),
    _COUNTED >= bindparam("start", type_=L.c.created_at.type),
    _COUNTED < bindparam("end", type_=L.c.created_at.type), in_quarters())
_COURSE_ORGANISATION = select(Course.__table__.c.organisation_id).where(Course.__table__.c.id == _COURSE)


class ExperimentRead:
    """An experiment's facts read (DbFacts.experiment_read): its statement (select() for embedding in a caller's
    statement, hot() to run on its own) and parameters."""

    def __init__(self, event, other, awards_of, params, day, since, min_reflection, days_since, new):
        self.event, self.other, self.awards_of, self.params = event, other, awards_of, params
        self.day, self.since, self.min_reflection, self.days_since, self.new = day, since, min_reflection, days_since, new

    @property
    def key(self) -> tuple:
        """What decides the statement's text (its parameters aside)."""
        return (self.other, self.awards_of, self.new is not None)

    def select(self):
        presence = self.new is not None
        return _statement(("prefetch select", self.other, self.awards_of, presence), lambda: _prefetch_statement(
            _repeats(self.other), self.awards_of, presence))

    def hot(self) -> Hot:
        return _statement(("prefetch", self.other, self.awards_of, self.new is not None),
                          lambda: Hot(lambda _dialect: self.select()))


class DbFacts:
    def __init__(self, course_id: int, user_id: int, organisation_id: int | None = None, zone=None):
        self.course_id = course_id
        self.user_id = user_id
        self.organisation_id = organisation_id  # the course's; looked up when not given
        self._params = {"course_id": course_id, "user_id": user_id}
        self._awards: dict[int, dict[str, tuple[int, datetime]]] | None = None
        self._summaries: dict[int, tuple] = {}
        self._tz = zone  # the organisation's time zone, when the caller knows it
        self._same: dict[tuple, int] = {}  # same_tool_and_category answers read ahead, by their arguments
        self._day_points: dict[tuple, int] = {}  # points_on_day answers read ahead (forgotten by changed())
        self._days: tuple[datetime, set[date]] | None = None  # days with experiments since, read ahead
        self._awards_of: frozenset[int] | None = None  # the rules whose past awards were read ahead (None: all)

    def prefetch_experiment(self, event, min_reflection_chars: int, awards_of: frozenset[int] | None = None) -> None:
        """Read in one statement what an experiment's rules ask, with the arguments they will ask it with:
        the repeats of its tool and category (the diminishing-returns window), the points its day already holds
        from experiments (the daily cap), the all-time summary (fail-forward's reflection length), the past awards
        of the rules in `awards_of` (kept up to date by changed()) and the days with experiments of the last
        PREFETCH_WEEKS weeks (streaks). Questions asked with other arguments are read as before.

        `awards_of`: the rules whose past awards the read covers (rules.asking_rules: the active rules whose
        evaluation asks; None: every rule); any other rule's, asked all the same, are read then."""
        read = self.experiment_read(event, min_reflection_chars, awards_of)
        pending.flush()
        self.take_experiment_read(read, read.hot().all(db.session, read.params))

    def experiment_read(self, event, min_reflection_chars: int, awards_of: frozenset[int] | None = None,
                        new: dict | None = None) -> ExperimentRead:
        """prefetch_experiment's statement and parameters, for a caller that runs it itself. For the experiment
        just logged: its repeats are every other entry of the window (a replay of an older one asks
        same_tool_and_category, which counts those logged before it). `new`: the experiment
        is not in the database yet (a statement that inserts it runs this read in the same round trip, and sees
        the rows as they were before it): its columns (ai_tool_id, created_at, outcome, visibility,
        reflection_chars; never a near-duplicate) are counted in as the read after the insert would count them."""
        from plugin.rules.engine import DIMINISHING_WINDOW

        tool_key, category_id = event.attrs["tool_key"], event.attrs["category_id"]
        other = tool_key == "other"
        since = event.occurred_at - DIMINISHING_WINDOW
        day = self.day_of(event.occurred_at)
        quarters = self._quarters(day)
        min_reflection = max(1, min_reflection_chars)
        days_since = datetime.combine(week_start(event.occurred_at) - timedelta(weeks=PREFETCH_WEEKS), time(0),
                                      tzinfo=timezone.utc)
        rule_ids = None if awards_of is None else tuple(sorted(awards_of))
        if len(_built) > 512:  # one statement per set of rules read: a handful per organisation
            _built.clear()
        tool = "other" if other else tool_key.split(":", 1)[1]
        since_day = since.astimezone(timezone.utc).date()
        repeats = tallies.tool_category_prefix(tool, category_id)
        params = {**self._params, "category_id": category_id, "since": since,
                  # The repeats: whole UTC days after the window's first from the tallies, that first day's entries
                  # counted from :since; less this experiment once it is in (a read after its insert).
                  "repeats_from": repeats + (since_day + timedelta(days=1)).isoformat(),
                  "repeats_to": repeats + tallies.END,
                  "first_day_end": datetime.combine(since_day + timedelta(days=1), time(0), tzinfo=timezone.utc),
                  "itself": 1 if new is None and category_id is not None else 0,
                  # a day not of whole quarter hours reads nothing here (points_on_day sums its entries)
                  "source_type": "experiment", "start_quarter": quarters[0] if quarters else 0,
                  "end_quarter": quarters[1] if quarters else 0,
                  "fsr_from": tallies.reflection_bucket(min_reflection),
                  "days_from": tallies.day_bucket(days_since.date()), "days_to": "day:" + tallies.END,
                  "tool_bucket": tallies.tool_bucket(tool), "category_bucket": tallies.category_bucket(category_id)}
        if not other:
            params["tool_id"] = int(tool)
        return ExperimentRead(event, other, rule_ids, params, day, since, min_reflection, days_since, new)

    def take_experiment_read(self, read: ExperimentRead, rows) -> None:
        """Keep the answers of an experiment_read's rows (kind, a, ..., i, latest, on) on this object."""
        event, new = read.event, read.new
        tool_key, category_id = event.attrs["tool_key"], event.attrs["category_id"]
        self._awards_of = None if read.awards_of is None else frozenset(read.awards_of)
        awards: dict[int, dict[str, tuple[int, datetime]]] = {}
        days = set()
        for kind, a, b, c, d, e, f, g, has_tool, has_category, latest, on in rows:
            if kind == "facts":
                self._same[(tool_key, category_id, read.since, event.source_id)] = int(a or 0)
                if read.params["end_quarter"]:  # else the day is not whole quarter hours: the read left it out
                    self._day_points[(read.day, "experiment")] = int(b or 0)
                summary = [int(v or 0) for v in (c, d, e, f, g)]
                if new is not None:  # counted in as the read after its insert would
                    shared = new["visibility"] != Visibility.PRIVATE.value
                    summary[0] += 1
                    summary[1] += 0 if has_tool else 1
                    summary[2] += 0 if has_category else 1
                    summary[3] += int(shared and new["outcome"] == Outcome.FAILED.value
                                      and (new["reflection_chars"] or 0) >= read.min_reflection)
                    summary[4] += int(shared)
                self._summaries[read.min_reflection] = tuple(summary)
            elif kind == "day":
                days.add(_day(on))
            elif kind in ("ledger", "badge"):
                awards.setdefault(a, {})[kind] = (int(b), _aware(latest))
        if new is not None and new["created_at"] >= read.days_since:
            days.add(new["created_at"].astimezone(timezone.utc).date())
        self._awards = awards
        self._days = (read.days_since, days)

    def _count(self, stmt, **params) -> int:
        pending.flush()
        return db.session.execute(stmt, {**self._params, **params}).scalar() or 0

    def _summary(self, min_reflection: int | None = None) -> tuple:
        """(experiments, distinct tools, distinct categories, failed shared and reflected, shared), all time."""
        if min_reflection is None and self._summaries:
            return next(iter(self._summaries.values()))
        min_reflection = 1 if min_reflection is None else min_reflection
        if min_reflection not in self._summaries:
            pending.flush()
            row = db.session.execute(_SUMMARY, {**self._params,
                                                "fsr_from": tallies.reflection_bucket(min_reflection)}).one()
            self._summaries[min_reflection] = tuple(int(v or 0) for v in row)
        return self._summaries[min_reflection]

    def experiments(self, *, since=None, outcome=None, category_id=None, tool_id=None, shared_only=False,
                    failed_with_reflection=False, min_reflection=1) -> int:
        if since is None and not (outcome or category_id or tool_id):
            if failed_with_reflection:
                return self._summary(min_reflection)[3]
            return self._summary()[4 if shared_only else 0]
        shape = (since is not None, bool(outcome), bool(category_id), bool(tool_id),
                 bool(shared_only or failed_with_reflection), bool(failed_with_reflection))

        def build():
            query = select(func.count()).select_from(X).where(*_MINE)
            if shape[0]:
                query = query.where(X.c.created_at >= _SINCE)
            if shape[1]:
                query = query.where(X.c.outcome == bindparam("outcome"))
            if shape[2]:
                query = query.where(X.c.task_category_id == bindparam("category_id"))
            if shape[3]:
                query = query.where(X.c.ai_tool_id == bindparam("tool_id"))
            if shape[4]:
                query = query.where(_SHARED)
            if shape[5]:
                query = query.where(X.c.outcome == Outcome.FAILED.value,
                                    X.c.reflection_chars >= bindparam("min_reflection"))
            return query

        # Parameters the shape leaves out are simply not bound.
        return self._count(_statement(("experiments", *shape), build), since=since, outcome=outcome,
                           category_id=category_id, tool_id=tool_id, min_reflection=min_reflection)

    def distinct_tools(self, since=None) -> int:
        if since is None:
            return self._summary()[1]
        stmt = _statement(("distinct_tools",), lambda: select(func.count(func.distinct(_TOOL))).where(
            *_MINE, X.c.created_at >= _SINCE))
        return self._count(stmt, since=since)

    def distinct_categories(self, since=None) -> int:
        if since is None:
            return self._summary()[2]
        stmt = _statement(("distinct_categories",), lambda: select(func.count(func.distinct(X.c.task_category_id)))
                          .where(*_MINE, X.c.created_at >= _SINCE))
        return self._count(stmt, since=since)

    @staticmethod
    def _same_statement(other: bool):
        def build():
            tool_clause = X.c.ai_tool_id.is_(None) if other else X.c.ai_tool_id == bindparam("tool_id")
            return select(func.count()).select_from(X).where(
                *_MINE, tool_clause, X.c.task_category_id == bindparam("category_id"), X.c.created_at >= _SINCE,
                X.c.id < bindparam("before_id"))
        return _statement(("same_tool", other), build)

    def same_tool_and_category(self, tool_key, category_id, since, before_id) -> int:
        known = self._same.get((tool_key, category_id, since, before_id))
        if known is not None:
            return known
        other = tool_key == "other"
        params = {"category_id": category_id, "since": since, "before_id": before_id}
        if not other:
            params["tool_id"] = int(tool_key.split(":", 1)[1])
        return self._count(self._same_statement(other), **params)

    def helps_given(self, since=None, across_teams=False) -> int:
        shape = (since is not None, bool(across_teams))

        def build():
            h = PeerHelp.__table__
            query = select(func.count()).select_from(h).where(
                h.c.course_id == _COURSE, h.c.helper_id == _USER, h.c.status == CONFIRMED,
                h.c.over_pair_cap.is_(False))
            if shape[0]:
                query = query.where(h.c.resolved_at >= bindparam("since", type_=h.c.resolved_at.type))
            if shape[1]:
                query = query.where(h.c.across_teams.is_(True))
            return query

        return self._count(_statement(("helps", *shape), build), **({"since": since} if shape[0] else {}))

    def kudos_received(self, since=None) -> int:
        def build():
            k = Kudos.__table__
            query = select(func.count()).select_from(k).where(
                k.c.course_id == _COURSE, k.c.receiver_id == _USER, k.c.revoked_at.is_(None))
            if since is not None:
                query = query.where(k.c.created_at >= bindparam("since", type_=k.c.created_at.type))
            return query

        return self._count(_statement(("kudos", since is not None), build),
                           **({"since": since} if since is not None else {}))

    def _on_my_experiments(self, model, since):
        def build():
            t = model.__table__
            # on any of my entries, a near-duplicate included: colleagues reacted to it all the same (a replay counts
            # them so); the near-duplicate filter is for counting my experiments
            query = select(func.count()).select_from(t).join(X, X.c.id == t.c.experiment_id).where(
                X.c.course_id == _COURSE, X.c.user_id == _USER, t.c.user_id != _USER)
            if "withdrawn_at" in t.c:  # a reaction taken back
                query = query.where(t.c.withdrawn_at.is_(None))
            if since is not None:
                query = query.where(t.c.created_at >= bindparam("since", type_=t.c.created_at.type))
            return query

        return self._count(_statement(("on_mine", model.__name__, since is not None), build),
                           **({"since": since} if since is not None else {}))

    def reactions_received(self, since=None) -> int:
        return self._on_my_experiments(Reaction, since)

    def reuses_received(self, since=None) -> int:
        """Different colleagues who reused my experiments (one colleague reusing three posts counts once)."""
        def build():
            r = Reuse.__table__
            query = select(func.count(func.distinct(r.c.user_id))).select_from(r).join(
                X, X.c.id == r.c.experiment_id).where(X.c.course_id == _COURSE, X.c.user_id == _USER,
                                                      r.c.user_id != _USER)
            if since is not None:
                query = query.where(r.c.created_at >= bindparam("since", type_=r.c.created_at.type))
            return query

        return self._count(_statement(("reuses", since is not None), build),
                           **({"since": since} if since is not None else {}))

    def active_weeks(self, since=None) -> set[date]:
        if (self._days is not None and since is not None and since >= self._days[0]
                and since.astimezone(timezone.utc).time() == time(0)):  # a UTC midnight: whole days compare
            first = since.astimezone(timezone.utc).date()
            return {week_start(d) for d in self._days[1] if d >= first}
        stmt = _WEEKS if since is None else _WEEKS_SINCE
        pending.flush()
        return {week_start(_day(value)) for value in db.session.scalars(stmt, {**self._params, "since": since})}

    def points(self, dimension) -> int:
        return self._count(_POINTS, dimension=dimension)

    def _zone(self):
        if self._tz is None:
            if self.organisation_id is None:
                self.organisation_id = db.session.scalar(_COURSE_ORGANISATION, {"course_id": self.course_id})
            self._tz = time_zone(self.organisation_id)
        return self._tz

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self._zone()).date()

    def points_on_day(self, day, source_type) -> int:
        """Points of a source type earned on a day of the organisation's calendar (local midnight to midnight)."""
        known = self._day_points.get((day, source_type))
        if known is not None:
            return known
        quarters = self._quarters(day)
        if quarters is None:
            start, end = self._bounds(day)
            return self._count(_DAY_POINTS_OF_ENTRIES, source_type=source_type, start=start, end=end)
        return self._count(_DAY_POINTS, source_type=source_type, start_quarter=quarters[0], end_quarter=quarters[1])

    def _quarters(self, day) -> tuple[int, int] | None:
        """The day's bounds as quarter_points numbers (its first quarter hour, the next day's first); None when
        the day does not start and end on a quarter hour."""
        start, end = self._bounds(day)
        if start.timestamp() % QUARTER_SECONDS or end.timestamp() % QUARTER_SECONDS:
            return None
        return quarter_of(start), quarter_of(end)

    def _bounds(self, day) -> tuple[datetime, datetime]:
        tz = self._zone()
        return (datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc),
                datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc))

    def _award_summary(self) -> dict[int, dict[str, tuple[int, datetime]]]:
        """How often and when last each rule recognised this person (ledger rows and badge awards), read
        once per event in one grouped query: every rule asks. Forgotten when new awards are posted."""
        if self._awards is None:
            pending.flush()
            awards: dict[int, dict[str, tuple[int, datetime]]] = {}
            for source, rule_id, times, latest in db.session.execute(_AWARDS, self._params):
                awards.setdefault(rule_id, {})[source] = (int(times), _aware(latest))
            self._awards = awards
        return self._awards

    def changed(self, rule_id: int | None = None, at: datetime | None = None, ledger: bool = False,
                badge: bool = False) -> None:
        """Awards were just posted. Told which (the rule, when, a ledger row and/or a badge award), the past
        awards read are brought up to date as a new read would give them; else they are read again."""
        self._day_points.clear()
        if self._awards is None:
            return
        if rule_id is None or at is None:
            self._awards = None
            return
        mine = self._awards.setdefault(rule_id, {})
        for source, posted in (("ledger", ledger), ("badge", badge)):
            if posted:
                times, latest = mine.get(source, (0, at))
                mine[source] = (times + 1, max(latest, at))

    def rule_awards(self, rule_id, since=None) -> int:
        """Times the rule recognised this person: a firing that gave points and a badge counts once."""
        if self._awards_of is not None and rule_id not in self._awards_of:
            ledger_times, badge_times = self._split(rule_id)
            return max(sum(1 for t in ledger_times if since is None or t >= since),
                       sum(1 for t in badge_times if since is None or t >= since))
        if since is None:
            return max((times for times, _ in self._award_summary().get(rule_id, {}).values()), default=0)
        if rule_id not in self._award_summary():
            return 0
        ledger_times, badge_times = self._split(rule_id)
        return max(sum(1 for t in ledger_times if t >= since), sum(1 for t in badge_times if t >= since))

    def _split(self, rule_id):
        ledger_times, badge_times = [], []
        pending.flush()
        for source, at in db.session.execute(_RULE_TIMES, {**self._params, "rule_id": rule_id}):
            (ledger_times if source == "ledger" else badge_times).append(_aware(at))
        return ledger_times, badge_times

    def last_rule_award(self, rule_id):
        if self._awards_of is not None and rule_id not in self._awards_of:
            ledger_times, badge_times = self._split(rule_id)
            return max([*ledger_times, *badge_times], default=None)
        return max((latest for _, latest in self._award_summary().get(rule_id, {}).values()), default=None)

    def challenges_completed(self, since=None) -> int:
        """Challenges this person completed in this course (with them as contributor, or mission accepted)."""
        def build():
            c = ChallengeContribution.__table__
            query = select(func.count()).select_from(c).where(
                c.c.course_id == _COURSE, c.c.user_id == _USER, c.c.completed_at.is_not(None))
            if since is not None:
                query = query.where(c.c.completed_at >= bindparam("since", type_=c.c.completed_at.type))
            return query

        return self._count(_statement(("challenges", since is not None), build),
                           **({"since": since} if since is not None else {}))


# How far back prefetch_experiment reads the days with experiments: enough for the default streak (4 weeks).
PREFETCH_WEEKS = 8


def _awards_of(rule_ids: tuple[int, ...] | None):
    """_AWARDS (None), or of the rules in `rule_ids` only (written into the statement: a Hot statement binds no
    lists). Looked up rule by rule in the ledger's (course, user, rule) index: the every-experiment rule's entries,
    as many as the person's experiments, are not walked past."""
    if rule_ids is None:
        return _AWARDS
    ids = [literal_column(str(int(rule_id))) for rule_id in rule_ids] or [literal_column("NULL")]  # NULL: none
    return select(literal("ledger"), L.c.rule_id, func.count(), func.max(_COUNTED)).where(
        L.c.course_id == _COURSE, L.c.user_id == _USER, L.c.rule_id.in_(ids), _ORIGINAL, _GIVEN).group_by(
        L.c.rule_id).union_all(select(literal("badge"), B.c.rule_id, func.count(), func.max(B.c.awarded_at)).where(
            B.c.course_id == _COURSE, B.c.user_id == _USER, B.c.rule_id.in_(ids), _BADGE_GIVEN).group_by(B.c.rule_id))


def _repeats(other: bool):
    """The prefetch's repeats of a tool on a kind of task since :since (same_tool_and_category): the tallies of
    the whole UTC days after :since's, plus the entries of its own day from :since on, less :itself."""
    def build():
        tool_clause = X.c.ai_tool_id.is_(None) if other else X.c.ai_tool_id == bindparam("tool_id")
        first_day = select(func.count()).select_from(X).where(
            *_MINE, tool_clause, X.c.task_category_id == bindparam("category_id"), X.c.created_at >= _SINCE,
            X.c.created_at < bindparam("first_day_end", type_=X.c.created_at.type)).scalar_subquery()
        # As an integer: PostgreSQL sums a BIGINT column as NUMERIC, which would make the UNION's column (the new
        # experiment's id, in the statement that inserts it) NUMERIC too.
        return cast(_tally_sum(bindparam("repeats_from"), bindparam("repeats_to")) + first_day - bindparam(
            "itself", type_=Integer), Integer)
    return _statement(("repeats", other), build)


def _prefetch_statement(repeats, awards_of: tuple[int, ...] | None = None, presence: bool = False):
    """One row of scalar facts ("facts": a to g, then whether the person has experiments with :tool_bucket and
    :category_bucket, when `presence` asks), every rule's past awards ("ledger"/"badge" rows) and the UTC days with
    experiments from :days_from ("day" rows, the day as text), as one UNION ALL of alike columns. Past awards are
    those of the rules in `awards_of`."""
    from sqlalchemy import null, union_all

    def none(type_):
        return cast(null(), type_)

    summary = _summary(presence).subquery()
    awards = _awards_of(awards_of).subquery()
    days = select(func.substr(T.c.bucket, 5).label("on")).where(
        *_TALLIES, T.c.bucket >= bindparam("days_from"), T.c.bucket < bindparam("days_to"), T.c.value > 0).subquery()
    at_type = L.c.created_at.type
    has_tool = cast(summary.c.tool > 0, Integer) if presence else none(Integer)
    has_category = cast(summary.c.category > 0, Integer) if presence else none(Integer)
    return union_all(
        # labelled: the columns are told apart by name where the union is read as a subquery (the award's preflight)
        select(literal("facts").label("kind"), repeats.label("a"), _DAY_POINTS.scalar_subquery().label("b"),
               *[cast(column, Integer).label(name) for column, name in zip(list(summary.c)[:5], "cdefg")],
               has_tool.label("has_tool"), has_category.label("has_category"), none(at_type).label("latest"),
               none(String).label("on")).select_from(summary),
        select(awards.c[0], awards.c[1], awards.c[2], *[none(Integer)] * 7, awards.c[3], none(String)),
        select(literal("day"), *[none(Integer)] * 9, none(at_type), cast(days.c.on, String)))


def _day(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # SQLite gives the text


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite hands aggregates back untyped
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
