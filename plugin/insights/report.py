"""The insight figures for one scope and period. Each table is a list of privacy.Row, protected by the
minimum group size before anyone sees it; the pages, the printable summary and the CSV exports all read
this one report.

Where the numbers come from:
- adoption and its trend, "not started yet" and leaders: member_stat (maintained per person and period;
  quarters are the union of their three months);
- minutes saved (sum and median), safe-to-fail, confidence, pillars: one query over the experiments of the
  scope's courses in the period, served by ix_experiment_course_created (course_id, created_at), so it
  grows with one period of one organisation's entries, never with the whole table;
- silo index: the confirmed helps of the courses resolved in the period; most reused: reuses in the period.

Beyond each table's own rows (privacy.protect), every figure of a team, or of an admin's course, is set beside
the same figure for the other groups its reader can choose (plugin.insights.differencing): the facts are read for
the whole course (the admin's whole organisation) and a group's figure is withheld when subtracting or adding
groups would single out fewer than k people. In a table by category or tool, the rows withheld add up to the
total minus the rows shown: that sum is checked the same way, and more rows go until it passes. The facts are read
for the weeks around the period's quarter too: a figure the other periods' would give away is withheld
(plugin.insights.time_slices).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from statistics import median

from sqlalchemy import func, select

from plugin.catalog.models import AiTool, TaskCategory
from plugin.community.models import Reuse
from plugin.experiments.models import Experiment, Outcome, Visibility
from plugin.extensions import db
from plugin.i18n import lazy_gettext as _l
from plugin.insights import periods, time_slices
from plugin.insights.differencing import TOP, Family, Key
from plugin.insights.network import HelpNetwork, help_network
from plugin.insights.privacy import Row, enough, protect
from plugin.insights.scope import Scope
from plugin.leaderboards.models import MemberStat
from plugin.leaderboards.periods import ALL
from plugin.onboarding.names import seeded
from plugin.peer_help.models import CONFIRMED, PeerHelp
from plugin.settings.service import time_zone
from plugin.vision.models import ExperimentPillar, Pillar
from plugin.vision.service import pillars as active_pillars

OTHER_TOOL_LABEL = _l("Other (not on the list)")


@dataclass(frozen=True)
class Report:
    scope: Scope
    adoption: Row
    trend: list[Row]
    hours_total: Row
    hours_by_category: list[Row]
    hours_by_tool: list[Row]
    hours_by_team: list[Row]
    safe_to_fail: Row
    confidence: Row
    pillars: list[Pillar]
    pillar_coverage: list[Row]
    leaders: Row
    silo: Row
    network: HelpNetwork
    reused: list[Row]
    differenced: bool = False  # a figure of this view is withheld as other groups' figures would give it away


class _Guard:
    """Primary suppression (fewer than k people) and differencing, between groups and between periods, for one view;
    remembers whether differencing withheld anything so the page can say why."""

    def __init__(self, scope: Scope, slices: time_slices.Slices, around: list):
        self.scope = scope
        self.differenced = False
        self.slices = slices
        self.around = around  # the view's facts in the weeks around the period

    def in_time(self, which) -> bool:
        """Whether the figure over the view's facts that `which` picks is not given away by other periods."""
        return self.in_time_at((f.created_at, f.user_id) for f in self.around if which(f))

    def in_time_at(self, people_at) -> bool:
        """The same for a figure over other things: (moment, user id) of each, in the weeks around the period."""
        if self.slices.shown(people_at):
            return True
        self.differenced = True
        return False

    def timed(self, row: Row, which) -> Row:
        return row if row.suppressed or self.in_time(which) else Row(row.key, row.label, row.people, None)

    def allows(self, units, key: Key | None = None, family: Family | None = None, teams_only: bool = False) -> bool:
        shown = (family or self.scope.family).shown(units, self.scope.k, teams_only)
        if (key or self.scope.own) in shown:
            return True
        self.differenced = True
        return False

    def row(self, row: Row, units, key: Key | None = None, family: Family | None = None) -> Row:
        if not enough(row.people, self.scope.k) or not self.allows(units, key, family):
            return Row(row.key, row.label, row.people, None)
        return row


def build(scope: Scope) -> Report:
    tz = time_zone(scope.organisation_id)
    weeks_around = time_slices.extended(scope.kind, scope.key, tz)
    around = _experiments(scope, weeks_around)
    w = scope.window
    top = [f for f in around if w.starts_at <= f.created_at < w.ends_at]
    own = scope.own_units
    facts = [f for f in top if _unit(f) in own]
    # Time saved: the experiments whose authors estimated it (0 included; one left blank is not a zero). Each row's
    # group is their people: withheld below the minimum group size as its figures are theirs alone.
    top_estimated = [f for f in top if _is_estimated(f)]
    estimated = [f for f in facts if _is_estimated(f)]
    around_helps = _helps(scope, weeks_around)
    top_helps = [h for h in around_helps if w.starts_at <= h.resolved_at < w.ends_at]
    helps = [h for h in top_helps if (h.helper_id, h.course_id) in own or (h.helped_id, h.course_id) in own]
    pillar_list = active_pillars(scope.organisation_id)
    guard = _Guard(scope, time_slices.Slices(scope.kind, scope.key, scope.k, tz),
                   [f for f in around if _unit(f) in own])
    roster = scope.family.groups[TOP]
    hours = _Hours(scope, top_estimated)
    report = Report(
        scope=scope, adoption=_adoption(scope, guard, roster), trend=_trend(scope, guard, roster),
        hours_total=guard.timed(hours.row(guard, Row("all", "All", _people(estimated), _minutes(estimated)),
                                          scope.own), _is_estimated),
        hours_by_category=_grouped(scope, guard, hours, top_estimated, estimated, lambda f: f.task_category_id,
                                   "category", _category_names(scope)),
        hours_by_tool=_grouped(scope, guard, hours, top_estimated, estimated, lambda f: f.ai_tool_id or 0, "tool",
                               _tool_names(scope)),
        # With a team chosen, only its row: the facts are its members', so another team's row would be cut down.
        hours_by_team=[guard.timed(hours.row(guard, Row(t.id, t.name, _people(fs), _minutes(fs)), ("team", t.id)),
                                   lambda f, t=t: _is_estimated(f) and _unit(f) in scope.family.groups[("team", t.id)])
                       for t in _teams_shown(scope)
                       if (fs := [f for f in estimated if _unit(f) in scope.family.groups[("team", t.id)]])],
        safe_to_fail=_safe_to_fail(scope, guard, top, facts), confidence=_confidence(scope, guard, top, facts),
        pillars=pillar_list, pillar_coverage=_pillar_coverage(scope, guard, top, facts, pillar_list),
        leaders=_leaders(scope, guard), silo=_silo(scope, guard, around_helps, top_helps, helps),
        network=help_network(scope, helps), reused=_reused(scope))
    return replace(report, differenced=guard.differenced)


class _Hours:
    """Minutes saved are shown in total for every group a reader can pick (the course, its teams; an admin's
    organisation and courses) and, for the top, per task category and per AI tool. Those are the groups of one
    family over (user, course, category, tool) units, so a team's total set beside one of the course's rows (a
    category only the rest of the team used) is checked as a team beside the course is. (A group's own rows beside
    the same rows of other groups: _grouped, per row.)"""

    def __init__(self, scope: Scope, top_estimated):
        groups: dict[Key, set] = defaultdict(set)
        for f in top_estimated:
            unit = (f.user_id, f.course_id, f.task_category_id, f.ai_tool_id or 0)
            for g in scope.family.signature.get(_unit(f), ()):
                groups[(*_base(g), "all", 0)].add(unit)
                if g == TOP:
                    groups[(*_base(g), "category", unit[2])].add(unit)
                    groups[(*_base(g), "tool", unit[3])].add(unit)
        self.top = (*_base(TOP), "all", 0)
        groups.setdefault(self.top, set())
        self.units = frozenset(groups[self.top])
        # When one must go, a row of the course's breakdowns goes before a group's total (a team's hours).
        self.family = Family({key: frozenset(units) for key, units in groups.items()}, top=self.top,
                             first=lambda key: 0 if key[2] != "all" else 1)

    def allows(self, guard: _Guard, group: Key, kind: str = "all", key=0) -> bool:
        return guard.allows(self.units, (*_base(group), kind, key), self.family)

    def row(self, guard: _Guard, row: Row, group: Key) -> Row:
        return guard.row(row, self.units, (*_base(group), "all", 0), self.family)


def _base(group: Key) -> tuple:
    """("top",), ("course", 3), ("team", 7) as keys of one shape: ("top", 0), ("course", 3), ("team", 7)."""
    return (group[0], group[1] if len(group) > 1 else 0)


def _unit(fact) -> tuple[int, int]:
    return fact.user_id, fact.course_id


def _units(facts) -> frozenset[tuple[int, int]]:
    return frozenset(_unit(f) for f in facts)


def _teams_shown(scope: Scope) -> list:
    return [scope.team] if scope.team else scope.teams


def _people(facts) -> frozenset[int]:
    return frozenset(f.user_id for f in facts)


def _experiments(scope: Scope, w) -> list:
    """The counted learners' experiments of the whole top (the view's are among them: differencing needs both) in
    window `w`: the weeks around the period (differencing across periods needs them)."""
    rows = db.session.execute(select(
        Experiment.id, Experiment.user_id, Experiment.course_id, Experiment.created_at, Experiment.task_category_id,
        Experiment.ai_tool_id,
        Experiment.minutes_saved, Experiment.outcome, Experiment.visibility, Experiment.hidden_at,
        Experiment.confidence_before, Experiment.confidence_after,
    ).where(Experiment.course_id.in_(scope.top_course_ids), Experiment.created_at >= w.starts_at,
            Experiment.created_at < w.ends_at))
    learners = scope.family.groups[TOP]
    return [r for r in rows if _unit(r) in learners]


# --- adoption ----------------------------------------------------------------------------------------
def _active(scope: Scope, keys: list[str], users: frozenset[int]) -> dict[str, set[int]]:
    month_keys = {m: k for k in keys for m in periods.month_keys(k)}
    out: dict[str, set[int]] = {k: set() for k in keys}
    for period, user_id in db.session.execute(select(MemberStat.period, MemberStat.user_id).where(
            MemberStat.course_id.in_(scope.learner_course_ids), MemberStat.period.in_(list(month_keys)),
            MemberStat.metric == "experiments", MemberStat.value > 0)):
        if user_id in users:
            out[month_keys[period]].add(user_id)
    return out


def _adoption(scope: Scope, guard: _Guard, everyone) -> Row:
    active = _active(scope, [scope.key], scope.learners)[scope.key]
    ever = _ever(scope.learner_course_ids, scope.learners)
    first = _first_timers(scope) & set(scope.learners)
    roster = len(scope.learners)
    figures = {"roster": roster, "active": len(active), "share": _pct(len(active), roster),
               "not_started": roster - len(ever), "first_timers": len(first)}
    return guard.row(Row(scope.key, periods.label(scope.key), scope.learners, figures), everyone)


def _ever(course_ids: list[int], users: frozenset[int]) -> set[int]:
    return {u for u in db.session.scalars(select(MemberStat.user_id).where(
        MemberStat.course_id.in_(course_ids), MemberStat.period == ALL, MemberStat.metric == "experiments",
        MemberStat.value > 0)) if u in users}


def _first_timers(scope: Scope) -> set[int]:
    w = scope.window
    first = select(Experiment.user_id, func.min(Experiment.created_at).label("first")).where(
        Experiment.course_id.in_(scope.learner_course_ids)).group_by(Experiment.user_id).subquery()
    return set(db.session.scalars(select(first.c.user_id).where(first.c.first >= w.starts_at,
                                                                  first.c.first < w.ends_at)))


def _trend(scope: Scope, guard: _Guard, roster) -> list[Row]:
    active = _active(scope, scope.trend_keys, scope.learners)
    n = len(scope.learners)
    return [guard.row(Row(k, periods.short_label(k), scope.learners,
                          {"active": len(active[k]), "roster": n, "share": _pct(len(active[k]), n)}), roster)
            for k in scope.trend_keys]


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


# --- minutes saved -----------------------------------------------------------------------------------
def _minutes(estimated) -> dict:
    """Over experiments whose authors estimated the time saved (build() leaves out the blanks)."""
    values = [f.minutes_saved for f in estimated]
    return {"experiments": len(values), "people": len({f.user_id for f in estimated}), "minutes": sum(values),
            "hours": round(sum(values) / 60, 1), "median": median(values) if values else 0}


def _grouped(scope: Scope, guard: _Guard, hours: _Hours, top, facts, key, kind: str, names: dict) -> list[Row]:
    groups, top_units = defaultdict(list), defaultdict(set)
    for f in facts:
        groups[key(f)].append(f)
    for f in top:
        top_units[key(f)].add(_unit(f))
    rows = [Row(k, names.get(k, str(OTHER_TOOL_LABEL) if not k else f"#{k}"), _people(fs), _minutes(fs))
            for k, fs in groups.items()]
    rows.sort(key=lambda r: (-r.figures["minutes"], r.label))
    def in_time(row: Row) -> bool:
        return guard.in_time(lambda f: _is_estimated(f) and key(f) == row.key)
    if scope.own == TOP:  # the top's rows beside the groups' totals (a team's total minus a row only it used)
        return protect(rows, scope.k, withheld=frozenset(
            r.key for r in rows if enough(r.people, scope.k)
            and not (hours.allows(guard, TOP, kind, r.key) and in_time(r))))
    # A group's row beside the same row of the other groups (the course's, other teams')
    out = protect(rows, scope.k, withheld=frozenset(
        r.key for r in rows if enough(r.people, scope.k) and not (guard.allows(top_units[r.key]) and in_time(r))))
    # The rows withheld add up to the view's total minus the rows shown: that sum, set beside the same categories'
    # sum for other groups, must not single anyone out either; while it would, the smallest row shown goes too.
    while (hidden := [r for r in out if r.suppressed]) and len(hidden) < len(out) \
            and not guard.allows(set().union(*(top_units[r.key] for r in hidden))):
        last = min((r for r in out if not r.suppressed), key=lambda r: (len(r.people), r.label))
        out = [Row(r.key, r.label, r.people, None) if r is last else r for r in out]
    return out


def _category_names(scope: Scope) -> dict:
    return {i: seeded(name) for i, name in db.session.execute(select(TaskCategory.id, TaskCategory.name).where(
        TaskCategory.organisation_id == scope.organisation_id))}


def _tool_names(scope: Scope) -> dict:
    return {0: str(OTHER_TOOL_LABEL), **dict(db.session.execute(select(AiTool.id, AiTool.name).where(
        AiTool.organisation_id == scope.organisation_id)).all())}


# --- culture -----------------------------------------------------------------------------------------
def _is_estimated(f) -> bool:
    return f.minutes_saved is not None


def _is_shared(f) -> bool:
    return f.visibility != Visibility.PRIVATE.value and f.hidden_at is None


def _safe_to_fail(scope: Scope, guard: _Guard, top, facts) -> Row:
    shared = [f for f in facts if _is_shared(f)]
    failed = sum(1 for f in shared if f.outcome == Outcome.FAILED.value)
    return guard.timed(guard.row(Row("safe", "Shared experiments", _people(shared),
                         {"shared": len(shared), "failed": failed, "rate": _pct(failed, len(shared))}),
                     _units(f for f in top if _is_shared(f))), _is_shared)


def _is_rated(f) -> bool:
    return bool(f.confidence_before and f.confidence_after)


def _confidence(scope: Scope, guard: _Guard, top, facts) -> Row:
    rated = [f for f in facts if _is_rated(f)]
    before = sum(f.confidence_before for f in rated) / len(rated) if rated else 0
    after = sum(f.confidence_after for f in rated) / len(rated) if rated else 0
    return guard.timed(guard.row(Row("confidence", "Rated before and after", _people(rated),
                                     {"rated": len(rated), "before": round(before, 2), "after": round(after, 2),
                                      "delta": round(after - before, 2)}), _units(f for f in top if _is_rated(f))),
                       _is_rated)


def _pillar_coverage(scope: Scope, guard: _Guard, top, facts, pillar_list: list[Pillar]) -> list[Row]:
    """Per team, shown when at least k of its members logged in the period (and it has k members); and withheld
    when those, set beside other teams' (no course total is shown here), would single out fewer than k people: two
    teams one experimenter apart (a member who logged nothing is no cover)."""
    if not pillar_list:
        return []
    by_unit: dict[tuple[int, int], list] = defaultdict(list)
    for f in facts:
        by_unit[_unit(f)].append(f.id)
    tags: dict[int, set[int]] = defaultdict(set)
    w = scope.window
    for experiment_id, pillar_id in db.session.execute(
            select(ExperimentPillar.experiment_id, ExperimentPillar.pillar_id)
            .join(Experiment, Experiment.id == ExperimentPillar.experiment_id)
            .where(Experiment.course_id.in_(scope.course_ids), Experiment.created_at >= w.starts_at,
                   Experiment.created_at < w.ends_at)):
        tags[experiment_id].add(pillar_id)
    rows = []
    for team in _teams_shown(scope):
        members = scope.family.groups[("team", team.id)]
        ids = [e for u in members for e in by_unit.get(u, [])]
        figures = {p.id: sum(1 for e in ids if p.id in tags[e]) for p in pillar_list}
        figures["experiments"] = len(ids)
        figures["gaps"] = [p.name for p in pillar_list if not figures[p.id]]
        people = frozenset(u for u, _ in members if (u, _) in by_unit)
        row = Row(team.id, team.name, people if len(members) >= scope.k else frozenset(), figures)
        if enough(row.people, scope.k) and not guard.allows(_units(top), ("team", team.id), teams_only=True):
            row = Row(row.key, row.label, row.people, None)
        rows.append(guard.timed(row, lambda f, members=members: _unit(f) in members)
                    if enough(row.people, scope.k) else row)
    return protect(rows, scope.k, secondary=False)


def _leaders(scope: Scope, guard: _Guard) -> Row:
    w = scope.window
    logged = set(db.session.scalars(select(Experiment.user_id).distinct().where(
        Experiment.course_id.in_(scope.course_ids), Experiment.created_at >= w.starts_at,
        Experiment.created_at < w.ends_at, Experiment.user_id.in_(scope.managers or [0]))))
    ever = _ever(scope.course_ids, scope.managers)
    n = len(scope.managers)
    return guard.row(Row("leaders", "Managers", scope.managers,
                         {"managers": n, "logged": len(logged), "share": _pct(len(logged), n),
                          "ever": len(ever), "ever_share": _pct(len(ever), n)}),
                     scope.manager_family.groups[TOP], scope.manager_own, scope.manager_family)


def _helps(scope: Scope, w) -> list:
    """The confirmed helps of the whole top with at least one of its counted learners in them, resolved in `w`."""
    rows = db.session.execute(select(
        PeerHelp.helper_id, PeerHelp.helped_id, PeerHelp.course_id, PeerHelp.across_teams, PeerHelp.resolved_at).where(
        PeerHelp.course_id.in_(scope.top_course_ids), PeerHelp.status == CONFIRMED,
        PeerHelp.resolved_at >= w.starts_at, PeerHelp.resolved_at < w.ends_at))
    learners = scope.family.groups[TOP]
    return [r for r in rows if (r.helper_id, r.course_id) in learners or (r.helped_id, r.course_id) in learners]


def _involved(helps, learners) -> frozenset[tuple[int, int]]:
    return frozenset(u for h in helps for u in ((h.helper_id, h.course_id), (h.helped_id, h.course_id))
                     if u in learners)


def _silo(scope: Scope, guard: _Guard, around_helps, top_helps, helps) -> Row:
    # The people it covers are the scope's own people in those helps, not their partners from elsewhere.
    own = scope.own_units
    people = frozenset(u for u, _ in _involved(helps, own))
    across = sum(1 for h in helps if h.across_teams)
    row = guard.row(Row("silo", "Confirmed peer help", people,
                        {"helps": len(helps), "across": across, "share": _pct(across, len(helps))}),
                    _involved(top_helps, scope.family.groups[TOP]))
    if row.suppressed or guard.in_time_at((h.resolved_at, u) for h in around_helps for u, _ in _involved([h], own)):
        return row
    return Row(row.key, row.label, row.people, None)


def _reused(scope: Scope, limit: int = 10) -> list[Row]:
    """Shared experiments reused by at least k colleagues in the period: the community's best practices."""
    if not enough(scope.learners, scope.k):  # a small team's best practices would point at its few people
        return []
    w = scope.window
    rows = db.session.execute(
        select(Experiment.id, Experiment.title, Experiment.user_id, TaskCategory.name, func.count(Reuse.id))
        .join(Reuse, Reuse.experiment_id == Experiment.id)
        .join(TaskCategory, TaskCategory.id == Experiment.task_category_id)
        .where(Experiment.course_id.in_(scope.course_ids), Experiment.visibility == Visibility.COURSE.value,
               Experiment.hidden_at.is_(None), Reuse.created_at >= w.starts_at, Reuse.created_at < w.ends_at)
        .group_by(Experiment.id, Experiment.title, Experiment.user_id, TaskCategory.name)
        .having(func.count(Reuse.id) >= scope.k)
        .order_by(func.count(Reuse.id).desc(), Experiment.id).limit(limit * 5))
    out = []
    for experiment_id, title, author_id, category, reuses in rows:
        if scope.team and author_id not in scope.learners:
            continue
        out.append(Row(experiment_id, title, frozenset(), {"category": seeded(category), "reuses": reuses}))
    return out[:limit]
