"""The rules' Facts answered from the database, for one person in one course.

A read model over the domain tables: it sits above them (experiments, peer help, kudos, the community
library, the ledger), so the pure rule engine below never imports them.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import String, cast, func, literal, select

from plugin.badges.models import BadgeAward
from plugin.challenges.models import ChallengeContribution
from plugin.community.models import Reaction, Reuse
from plugin.experiments.models import Experiment, Outcome, Visibility
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry, PointsTotal
from plugin.peer_help.models import CONFIRMED, PeerHelp
from plugin.recognition.models import Kudos
from plugin.rules.facts import week_start
from plugin.settings.service import time_zone
from plugin.tenancy.models import Course


class DbFacts:
    def __init__(self, course_id: int, user_id: int):
        self.course_id = course_id
        self.user_id = user_id
        self._times: dict[int, list[datetime]] | None = None
        self._sources: dict[int, dict[str, int]] = {}
        self._tz = None

    def _count(self, query) -> int:
        return db.session.scalar(query) or 0

    def _mine(self):
        """This person's experiments in this course; near-duplicates are logged but never count."""
        return (Experiment.course_id == self.course_id, Experiment.user_id == self.user_id,
                Experiment.duplicate_of_id.is_(None))

    def experiments(self, *, since=None, outcome=None, category_id=None, tool_id=None, shared_only=False,
                    failed_with_reflection=False, min_reflection=1) -> int:
        query = select(func.count()).select_from(Experiment).where(*self._mine())
        if since is not None:
            query = query.where(Experiment.created_at >= since)
        if outcome:
            query = query.where(Experiment.outcome == outcome)
        if category_id:
            query = query.where(Experiment.task_category_id == category_id)
        if tool_id:
            query = query.where(Experiment.ai_tool_id == tool_id)
        if shared_only or failed_with_reflection:
            query = query.where(Experiment.visibility != Visibility.PRIVATE.value)
        if failed_with_reflection:
            query = query.where(Experiment.outcome == Outcome.FAILED.value,
                                Experiment.reflection_chars >= min_reflection)
        return self._count(query)

    def distinct_tools(self, since=None) -> int:
        tool = func.coalesce(cast(Experiment.ai_tool_id, String), "other")
        query = select(func.count(func.distinct(tool))).where(*self._mine())
        if since is not None:
            query = query.where(Experiment.created_at >= since)
        return self._count(query)

    def distinct_categories(self, since=None) -> int:
        query = select(func.count(func.distinct(Experiment.task_category_id))).where(*self._mine())
        if since is not None:
            query = query.where(Experiment.created_at >= since)
        return self._count(query)

    def same_tool_and_category(self, tool_key, category_id, since, before_id) -> int:
        tool_clause = Experiment.ai_tool_id.is_(None) if tool_key == "other" else \
            Experiment.ai_tool_id == int(tool_key.split(":", 1)[1])
        return self._count(select(func.count()).select_from(Experiment).where(
            *self._mine(), tool_clause, Experiment.task_category_id == category_id,
            Experiment.created_at >= since, Experiment.id < before_id))

    def helps_given(self, since=None, across_teams=False) -> int:
        query = select(func.count()).select_from(PeerHelp).where(
            PeerHelp.course_id == self.course_id, PeerHelp.helper_id == self.user_id, PeerHelp.status == CONFIRMED,
            PeerHelp.over_pair_cap.is_(False))
        if since is not None:
            query = query.where(PeerHelp.resolved_at >= since)
        if across_teams:
            query = query.where(PeerHelp.across_teams.is_(True))
        return self._count(query)

    def kudos_received(self, since=None) -> int:
        query = select(func.count()).select_from(Kudos).where(
            Kudos.course_id == self.course_id, Kudos.receiver_id == self.user_id, Kudos.revoked_at.is_(None))
        if since is not None:
            query = query.where(Kudos.created_at >= since)
        return self._count(query)

    def _on_my_experiments(self, model, since):
        query = select(func.count()).select_from(model).join(Experiment, Experiment.id == model.experiment_id).where(
            *self._mine(), model.user_id != self.user_id)
        if since is not None:
            query = query.where(model.created_at >= since)
        return self._count(query)

    def reactions_received(self, since=None) -> int:
        return self._on_my_experiments(Reaction, since)

    def reuses_received(self, since=None) -> int:
        """Different colleagues who reused my experiments (one colleague reusing three posts counts once)."""
        query = select(func.count(func.distinct(Reuse.user_id))).join(Experiment, Experiment.id == Reuse.experiment_id) \
            .where(*self._mine(), Reuse.user_id != self.user_id)
        if since is not None:
            query = query.where(Reuse.created_at >= since)
        return self._count(query)

    def active_weeks(self) -> set[date]:
        rows = db.session.scalars(select(Experiment.created_at).where(*self._mine()))
        return {week_start(moment) for moment in rows}

    def points(self, dimension) -> int:
        return self._count(select(PointsTotal.points).where(
            PointsTotal.course_id == self.course_id, PointsTotal.user_id == self.user_id,
            PointsTotal.dimension == dimension))

    def _zone(self):
        if self._tz is None:
            organisation_id = db.session.scalar(select(Course.organisation_id).where(Course.id == self.course_id))
            self._tz = time_zone(organisation_id)
        return self._tz

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self._zone()).date()

    def points_on_day(self, day, source_type) -> int:
        """Points of a source type earned on a day of the organisation's calendar (local midnight to midnight)."""
        tz = self._zone()
        start = datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)
        return self._count(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.course_id == self.course_id, LedgerEntry.user_id == self.user_id,
            LedgerEntry.source_type == source_type, LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end))

    def _award_times(self) -> dict[int, list[datetime]]:
        """When each rule recognised this person (ledger rows and badge awards), loaded once per event:
        every rule asks, so one query each beats two per rule. Forgotten when new awards are posted."""
        if self._times is None:
            times: dict[int, list[datetime]] = {}
            counts: dict[int, dict[str, int]] = {}
            for source, rule_id, at in db.session.execute(
                    select(literal("ledger"), LedgerEntry.rule_id, LedgerEntry.created_at).where(
                        LedgerEntry.course_id == self.course_id, LedgerEntry.user_id == self.user_id,
                        LedgerEntry.rule_id.is_not(None), LedgerEntry.reverses_id.is_(None))
                    .union_all(select(literal("badge"), BadgeAward.rule_id, BadgeAward.awarded_at).where(
                        BadgeAward.course_id == self.course_id, BadgeAward.user_id == self.user_id,
                        BadgeAward.rule_id.is_not(None)))):
                times.setdefault(rule_id, []).append(_aware(at))
                counts.setdefault(rule_id, {}).setdefault(source, 0)
                counts[rule_id][source] += 1
            self._times, self._sources = times, counts
        return self._times

    def changed(self) -> None:
        self._times = None

    def rule_awards(self, rule_id, since=None) -> int:
        """Times the rule recognised this person: a firing that gave points and a badge counts once."""
        if since is None:
            self._award_times()
            return max(self._sources.get(rule_id, {}).values(), default=0)
        ledger_times, badge_times = self._split(rule_id)
        return max(sum(1 for t in ledger_times if t >= since), sum(1 for t in badge_times if t >= since))

    def _split(self, rule_id):
        rows = db.session.execute(
            select(literal("ledger"), LedgerEntry.created_at).where(
                LedgerEntry.course_id == self.course_id, LedgerEntry.user_id == self.user_id,
                LedgerEntry.rule_id == rule_id, LedgerEntry.reverses_id.is_(None))
            .union_all(select(literal("badge"), BadgeAward.awarded_at).where(
                BadgeAward.course_id == self.course_id, BadgeAward.user_id == self.user_id,
                BadgeAward.rule_id == rule_id)))
        ledger_times, badge_times = [], []
        for source, at in rows:
            (ledger_times if source == "ledger" else badge_times).append(_aware(at))
        return ledger_times, badge_times

    def last_rule_award(self, rule_id):
        times = self._award_times().get(rule_id)
        return max(times) if times else None

    def challenges_completed(self, since=None) -> int:
        """Challenges this person completed in this course (with them as contributor, or mission accepted)."""
        query = select(func.count()).select_from(ChallengeContribution).where(
            ChallengeContribution.course_id == self.course_id, ChallengeContribution.user_id == self.user_id,
            ChallengeContribution.completed_at.is_not(None))
        if since is not None:
            query = query.where(ChallengeContribution.completed_at >= since)
        return self._count(query)


def _aware(value) -> datetime:
    if isinstance(value, str):  # SQLite hands aggregates back untyped
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
