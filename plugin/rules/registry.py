"""Condition types: a name, the events that trigger it, a params schema and a pure check.

Adding one = adding an entry here and its unit test. Nothing is evaluated from strings.
A check sees the triggering event, the person's facts and the organisation's limits. "Per fact"
conditions pay once per event. Threshold conditions pay when the threshold is met: once, or, for a
repeatable rule, at most once per its window (a rule without a window then pays once).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Callable

from marshmallow import Schema, fields, validate

from plugin.core.ids import MAX_ID
from plugin.i18n import lazy_gettext as _l
from plugin.rules import events as E
from plugin.rules.facts import Facts, streak, week_start
from plugin.settings.fields import whole as _whole
from plugin.settings.service import Limits

OUTCOMES = ["worked", "partly", "failed"]


@dataclass(frozen=True)
class Condition:
    name: str
    label: str  # lazy: read in the request's language
    events: frozenset[str]
    params_schema: type[Schema]
    check: Callable[[dict, E.Event, Facts, Limits], bool]
    per_fact: bool = False  # pays once per triggering fact (else once per threshold crossing)


def _window(params: dict, event: E.Event):
    days = params.get("window_days") or 0
    return event.occurred_at - timedelta(days=days) if days else None


class _Count(Schema):
    count = _whole(1, 10_000, required=True)
    window_days = _whole(0, 3650, load_default=0)


# --- per fact ---------------------------------------------------------------------------------
class EachExperimentParams(Schema):
    outcomes = fields.List(fields.String(validate=validate.OneOf(OUTCOMES)), load_default=list)
    require_reflection_on_failure = fields.Boolean(load_default=True)


def _each_experiment(p, event, facts, limits) -> bool:
    a = event.attrs
    if a.get("near_duplicate"):
        return False
    if p["outcomes"] and a["outcome"] not in p["outcomes"]:
        return False
    if a["outcome"] == "failed" and p["require_reflection_on_failure"]:
        return a.get("reflection_chars", 0) >= max(1, limits.min_reflection_chars)
    return True


class EachHelpParams(Schema):
    across_teams_only = fields.Boolean(load_default=False)


def _each_help(p, event, facts, limits) -> bool:
    return not event.attrs.get("over_pair_cap") and (not p["across_teams_only"] or event.attrs.get("across_teams"))


class NoParams(Schema):
    pass


# --- thresholds -------------------------------------------------------------------------------
class ExperimentCountParams(_Count):
    outcome = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(OUTCOMES))
    # Ids in range: a stored rule is evaluated on every experiment logged, and an id beyond the database's
    # INTEGER made each of those a server error.
    category_id = _whole(1, MAX_ID, load_default=None, allow_none=True)
    tool_id = _whole(1, MAX_ID, load_default=None, allow_none=True)
    shared_only = fields.Boolean(load_default=False)


def _experiment_count(p, event, facts, limits) -> bool:
    return facts.experiments(since=_window(p, event), outcome=p["outcome"], category_id=p["category_id"],
                             tool_id=p["tool_id"], shared_only=p["shared_only"]) >= p["count"]


def _distinct_tools(p, event, facts, limits) -> bool:
    return facts.distinct_tools(_window(p, event)) >= p["count"]


def _distinct_categories(p, event, facts, limits) -> bool:
    return facts.distinct_categories(_window(p, event)) >= p["count"]


def _failed_shared(p, event, facts, limits) -> bool:
    return facts.experiments(since=_window(p, event), failed_with_reflection=True,
                             min_reflection=max(1, limits.min_reflection_chars)) >= p["count"]


class HelpsParams(_Count):
    across_teams = fields.Boolean(load_default=False)


def _helps_given(p, event, facts, limits) -> bool:
    return facts.helps_given(_window(p, event), across_teams=p["across_teams"]) >= p["count"]


def _kudos(p, event, facts, limits) -> bool:
    return facts.kudos_received(_window(p, event)) >= p["count"]


def _reactions(p, event, facts, limits) -> bool:
    return facts.reactions_received(_window(p, event)) >= p["count"]


def _reuses(p, event, facts, limits) -> bool:
    return facts.reuses_received(_window(p, event)) >= p["count"]


def _challenges_completed(p, event, facts, limits) -> bool:
    return facts.challenges_completed(_window(p, event)) >= p["count"]


class StreakParams(Schema):
    weeks = _whole(2, 520, required=True)


def _streak(p, event, facts, limits) -> bool:
    # Only the weeks a streak of the wanted length could reach back to (and one spare) need reading.
    since = datetime.combine(week_start(event.occurred_at) - timedelta(weeks=p["weeks"] + 1), time(0), tzinfo=timezone.utc)
    return streak(facts.active_weeks(since), event.occurred_at) >= p["weeks"]


class DimensionPointsParams(Schema):
    dimension = fields.String(required=True, validate=validate.Length(min=1, max=40, error=_l("Choose a dimension.")))
    points = _whole(1, 1_000_000, required=True)


def _dimension_points(p, event, facts, limits) -> bool:
    return facts.points(p["dimension"]) >= p["points"]


class LevelParams(Schema):
    level = fields.String(required=True, validate=validate.Length(min=1, max=100, error=_l("Choose a level.")))
    threshold = _whole(0, 1_000_000, required=True)


def _level(p, event, facts, limits) -> bool:
    return facts.points("total") >= p["threshold"]


_EXP = frozenset({E.EXPERIMENT_LOGGED})
REGISTRY: dict[str, Condition] = {c.name: c for c in [
    Condition("each_experiment", _l("Each experiment logged (a failure counts when reflected on)"), _EXP,
              EachExperimentParams, _each_experiment, per_fact=True),
    Condition("each_confirmed_help", _l("Each confirmed help given"), frozenset({E.HELP_CONFIRMED}),
              EachHelpParams, _each_help, per_fact=True),
    Condition("each_reuse", _l("Each time someone reuses my experiment"), frozenset({E.REUSE_RECEIVED}),
              NoParams, lambda p, e, f, l: True, per_fact=True),
    Condition("each_kudos", _l("Each kudos received"), frozenset({E.KUDOS_RECEIVED}),
              NoParams, lambda p, e, f, l: True, per_fact=True),
    Condition("experiment_count", _l("Experiments logged (with filters) reach a number"), _EXP,
              ExperimentCountParams, _experiment_count),
    Condition("distinct_tools", _l("Different AI tools tried"), _EXP, _Count, _distinct_tools),
    Condition("distinct_categories", _l("Different kinds of task tried"), _EXP, _Count, _distinct_categories),
    Condition("failed_shared_with_reflection", _l("Failed experiments shared with what was learned"), _EXP,
              _Count, _failed_shared),
    Condition("helps_given", _l("Confirmed helps given"), frozenset({E.HELP_CONFIRMED}), HelpsParams, _helps_given),
    Condition("kudos_received", _l("Kudos received"), frozenset({E.KUDOS_RECEIVED}), _Count, _kudos),
    Condition("reactions_received", _l("Reactions received on my experiments"), frozenset({E.REACTION_RECEIVED}),
              _Count, _reactions),
    Condition("reuses_received", _l("Different colleagues who reused my experiments"), frozenset({E.REUSE_RECEIVED}),
              _Count, _reuses),
    Condition("challenge_completed", _l("Challenges completed (or sandbox missions accepted) reach a number"),
              frozenset({E.CHALLENGE_COMPLETED}), _Count, _challenges_completed),
    Condition("active_week_streak", _l("Active weeks in a row"), _EXP, StreakParams, _streak),
    Condition("points_in_dimension", _l("Points in a dimension reach a number"), frozenset({E.POINTS_CHANGED}),
              DimensionPointsParams, _dimension_points),
    Condition("level_reached", _l("A level is reached"), frozenset({E.POINTS_CHANGED}), LevelParams, _level),
]}


# One schema instance per condition: building a marshmallow schema (it deep-copies its fields) cost more
# than loading with it, and loading keeps no state on the instance.
_SCHEMAS: dict[str, Schema] = {}


def load_params(condition: str, raw: dict) -> dict:
    """Validate a rule's params against its condition's schema (raises marshmallow.ValidationError)."""
    schema = _SCHEMAS.get(condition)
    if schema is None:
        schema = _SCHEMAS[condition] = REGISTRY[condition].params_schema()
    return schema.load(raw or {})
