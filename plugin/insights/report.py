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
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from statistics import median

from sqlalchemy import func, select

from plugin.catalog.models import AiTool, TaskCategory
from plugin.community.models import Reuse
from plugin.experiments.models import Experiment, Outcome, Visibility
from plugin.extensions import db
from plugin.i18n import lazy_gettext as _l
from plugin.insights import periods
from plugin.insights.network import HelpNetwork, help_network
from plugin.insights.privacy import Row, enough, protect
from plugin.insights.scope import Scope
from plugin.leaderboards.models import MemberStat
from plugin.leaderboards.periods import ALL
from plugin.onboarding.names import seeded
from plugin.peer_help.models import CONFIRMED, PeerHelp
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


def build(scope: Scope) -> Report:
    facts = _experiments(scope)
    # Time saved: the experiments whose authors estimated it (0 included; one left blank is not a zero). Each row's
    # group is their people: withheld below the minimum group size as its figures are theirs alone.
    estimated = [f for f in facts if f.minutes_saved is not None]
    helps = _helps(scope)
    pillar_list = active_pillars(scope.organisation_id)
    return Report(
        scope=scope, adoption=_adoption(scope), trend=_trend(scope),
        hours_total=_guard(Row("all", "All", _people(estimated), _minutes(estimated)), scope.k),
        hours_by_category=_grouped(scope, estimated, lambda f: f.task_category_id, _category_names(scope)),
        hours_by_tool=_grouped(scope, estimated, lambda f: f.ai_tool_id or 0, _tool_names(scope)),
        # With a team chosen, only its row: the facts are its members', so another team's row would be cut down.
        hours_by_team=protect([Row(t.id, t.name, _people(fs), _minutes(fs)) for t in _teams_shown(scope)
                               if (fs := [f for f in estimated if f.user_id in scope.team_members[t.id]])], scope.k,
                               secondary=False),
        safe_to_fail=_safe_to_fail(scope, facts), confidence=_confidence(scope, facts), pillars=pillar_list,
        pillar_coverage=_pillar_coverage(scope, facts, pillar_list), leaders=_leaders(scope),
        silo=_silo(scope, helps), network=help_network(scope, helps), reused=_reused(scope))


def _teams_shown(scope: Scope) -> list:
    return [scope.team] if scope.team else scope.teams


def _guard(row: Row, k: int) -> Row:
    return row if enough(row.people, k) else Row(row.key, row.label, row.people, None)


def _people(facts) -> frozenset[int]:
    return frozenset(f.user_id for f in facts)


def _experiments(scope: Scope) -> list:
    w = scope.window
    rows = db.session.execute(select(
        Experiment.id, Experiment.user_id, Experiment.task_category_id, Experiment.ai_tool_id,
        Experiment.minutes_saved, Experiment.outcome, Experiment.visibility, Experiment.hidden_at,
        Experiment.confidence_before, Experiment.confidence_after,
    ).where(Experiment.course_id.in_(scope.course_ids), Experiment.created_at >= w.starts_at,
            Experiment.created_at < w.ends_at))
    return [r for r in rows if r.user_id in scope.learners]


# --- adoption ----------------------------------------------------------------------------------------
def _active(scope: Scope, keys: list[str], users: frozenset[int]) -> dict[str, set[int]]:
    month_keys = {m: k for k in keys for m in periods.month_keys(k)}
    out: dict[str, set[int]] = {k: set() for k in keys}
    for period, user_id in db.session.execute(select(MemberStat.period, MemberStat.user_id).where(
            MemberStat.course_id.in_(scope.course_ids), MemberStat.period.in_(list(month_keys)),
            MemberStat.metric == "experiments", MemberStat.value > 0)):
        if user_id in users:
            out[month_keys[period]].add(user_id)
    return out


def _adoption(scope: Scope) -> Row:
    active = _active(scope, [scope.key], scope.learners)[scope.key]
    ever = _ever(scope, scope.learners)
    first = _first_timers(scope) & set(scope.learners)
    roster = len(scope.learners)
    figures = {"roster": roster, "active": len(active), "share": _pct(len(active), roster),
               "not_started": roster - len(ever), "first_timers": len(first)}
    return _guard(Row(scope.key, periods.label(scope.key), scope.learners, figures), scope.k)


def _ever(scope: Scope, users: frozenset[int]) -> set[int]:
    return {u for u in db.session.scalars(select(MemberStat.user_id).where(
        MemberStat.course_id.in_(scope.course_ids), MemberStat.period == ALL, MemberStat.metric == "experiments",
        MemberStat.value > 0)) if u in users}


def _first_timers(scope: Scope) -> set[int]:
    w = scope.window
    first = select(Experiment.user_id, func.min(Experiment.created_at).label("first")).where(
        Experiment.course_id.in_(scope.course_ids)).group_by(Experiment.user_id).subquery()
    return set(db.session.scalars(select(first.c.user_id).where(first.c.first >= w.starts_at,
                                                                  first.c.first < w.ends_at)))


def _trend(scope: Scope) -> list[Row]:
    active = _active(scope, scope.trend_keys, scope.learners)
    roster = len(scope.learners)
    return [_guard(Row(k, periods.short_label(k), scope.learners,
                       {"active": len(active[k]), "roster": roster, "share": _pct(len(active[k]), roster)}), scope.k)
            for k in scope.trend_keys]


def _pct(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


# --- minutes saved -----------------------------------------------------------------------------------
def _minutes(estimated) -> dict:
    """Over experiments whose authors estimated the time saved (build() leaves out the blanks)."""
    values = [f.minutes_saved for f in estimated]
    return {"experiments": len(values), "people": len({f.user_id for f in estimated}), "minutes": sum(values),
            "hours": round(sum(values) / 60, 1), "median": median(values) if values else 0}


def _grouped(scope: Scope, facts, key, names: dict) -> list[Row]:
    groups = defaultdict(list)
    for f in facts:
        groups[key(f)].append(f)
    rows = [Row(k, names.get(k, str(OTHER_TOOL_LABEL) if not k else f"#{k}"), _people(fs), _minutes(fs))
            for k, fs in groups.items()]
    rows.sort(key=lambda r: (-r.figures["minutes"], r.label))
    return protect(rows, scope.k)


def _category_names(scope: Scope) -> dict:
    return {i: seeded(name) for i, name in db.session.execute(select(TaskCategory.id, TaskCategory.name).where(
        TaskCategory.organisation_id == scope.organisation_id))}


def _tool_names(scope: Scope) -> dict:
    return {0: str(OTHER_TOOL_LABEL), **dict(db.session.execute(select(AiTool.id, AiTool.name).where(
        AiTool.organisation_id == scope.organisation_id)).all())}


# --- culture -----------------------------------------------------------------------------------------
def _safe_to_fail(scope: Scope, facts) -> Row:
    shared = [f for f in facts if f.visibility != Visibility.PRIVATE.value and f.hidden_at is None]
    failed = sum(1 for f in shared if f.outcome == Outcome.FAILED.value)
    return _guard(Row("safe", "Shared experiments", _people(shared),
                      {"shared": len(shared), "failed": failed, "rate": _pct(failed, len(shared))}), scope.k)


def _confidence(scope: Scope, facts) -> Row:
    rated = [f for f in facts if f.confidence_before and f.confidence_after]
    before = sum(f.confidence_before for f in rated) / len(rated) if rated else 0
    after = sum(f.confidence_after for f in rated) / len(rated) if rated else 0
    return _guard(Row("confidence", "Rated before and after", _people(rated),
                      {"rated": len(rated), "before": round(before, 2), "after": round(after, 2),
                       "delta": round(after - before, 2)}), scope.k)


def _pillar_coverage(scope: Scope, facts, pillar_list: list[Pillar]) -> list[Row]:
    if not pillar_list:
        return []
    by_user: dict[int, list] = defaultdict(list)
    for f in facts:
        by_user[f.user_id].append(f.id)
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
        members = scope.team_members[team.id]
        ids = [e for u in members for e in by_user.get(u, [])]
        figures = {p.id: sum(1 for e in ids if p.id in tags[e]) for p in pillar_list}
        figures["experiments"] = len(ids)
        figures["gaps"] = [p.name for p in pillar_list if not figures[p.id]]
        people = frozenset(u for u in members if u in by_user)
        rows.append(Row(team.id, team.name, people if len(members) >= scope.k else frozenset(), figures))
    return protect(rows, scope.k, secondary=False)


def _leaders(scope: Scope) -> Row:
    w = scope.window
    logged = set(db.session.scalars(select(Experiment.user_id).distinct().where(
        Experiment.course_id.in_(scope.course_ids), Experiment.created_at >= w.starts_at,
        Experiment.created_at < w.ends_at, Experiment.user_id.in_(scope.managers or [0]))))
    ever = _ever(scope, scope.managers)
    n = len(scope.managers)
    return _guard(Row("leaders", "Managers", scope.managers,
                      {"managers": n, "logged": len(logged), "share": _pct(len(logged), n),
                       "ever": len(ever), "ever_share": _pct(len(ever), n)}), scope.k)


def _helps(scope: Scope) -> list:
    w = scope.window
    rows = db.session.execute(select(PeerHelp.helper_id, PeerHelp.helped_id, PeerHelp.across_teams).where(
        PeerHelp.course_id.in_(scope.course_ids), PeerHelp.status == CONFIRMED,
        PeerHelp.resolved_at >= w.starts_at, PeerHelp.resolved_at < w.ends_at))
    return [r for r in rows if r.helper_id in scope.learners or r.helped_id in scope.learners]


def _silo(scope: Scope, helps) -> Row:
    # The people it covers are the scope's own people in those helps, not their partners from elsewhere.
    people = frozenset(({h.helper_id for h in helps} | {h.helped_id for h in helps}) & scope.learners)
    across = sum(1 for h in helps if h.across_teams)
    return _guard(Row("silo", "Confirmed peer help", people,
                      {"helps": len(helps), "across": across, "share": _pct(across, len(helps))}), scope.k)


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
