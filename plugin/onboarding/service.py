"""Sensible defaults for a new organisation, loaded on first use and never overwriting an admin's changes:
lists to pick from, dimensions and levels, limits, and the default rule pack grounded in the mission
(reward trying and sharing, failures included; never a volume contest)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from plugin.badges.service import get_or_create_badge
from plugin.catalog.service import ensure_item, items
from plugin.extensions import db
from plugin.levels import service as levels
from plugin.rules.definitions import create_rule
from plugin.rules.models import Rule
from plugin.settings.service import limits_row
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Organisation

DEFAULT_TOOLS = ["ChatGPT", "Microsoft Copilot", "Claude", "Gemini", "GitHub Copilot", "Perplexity"]
DEFAULT_CATEGORIES = ["Writing and editing", "Research and summarising", "Data and spreadsheets",
                      "Assessment design", "Coding and automation", "Meetings and planning", "Learning content"]
DEFAULT_VALUES = ["Curiosity", "Responsible use", "Sharing openly", "Learning from failure", "Helping others"]

# slug, name, description, criteria, colour, manual
BADGES = [
    ("first-experiment", "First experiment", "Logged a first AI experiment: the hardest step is the first one.",
     "Log one AI experiment in Tinker, whatever its outcome.", "#2b8a3e", False),
    ("fail-forward", "Fail Forward", "Shared an experiment that did not work, and what it taught.",
     "Share a failed experiment with your team or course, with what you learned.", "#c92a2a", False),
    ("explorer", "Explorer", "Tried three different AI tools.", "Log experiments with 3 different AI tools.",
     "#1971c2", False),
    ("range", "Range", "Tried AI on four different kinds of task.", "Log experiments in 4 task categories.",
     "#5f3dc4", False),
    ("helper", "Helper", "Helped colleagues three times, as they confirmed.", "Give 3 confirmed helps.",
     "#e67700", False),
    ("bridge-builder", "Bridge Builder", "Helped someone from another team.",
     "Give a confirmed help to someone outside your teams.", "#0b7285", False),
    ("streak", "Streak", "Experimented four weeks in a row.", "Log an experiment in 4 consecutive weeks.",
     "#a61e4d", False),
    ("reused", "Reused", "Three colleagues reused something you shared.",
     "Three different colleagues mark an experiment of yours as reused.",
     "#364fc7", False),
    ("champion", "Champion", "Recognised by a manager as an AI champion.", "Awarded by a manager, with evidence.",
     "#f08c00", True),
]

# key, name, condition, params, points, dimension, badge slug, repeatable
RULE_PACK = [
    ("logged", "Logged an experiment", "each_experiment", {"require_reflection_on_failure": True}, 10,
     "experimenting", None, True),
    ("first-try", "First Try", "experiment_count", {"count": 1}, 0, "experimenting", "first-experiment", False),
    ("fail-forward", "Fail Forward", "failed_shared_with_reflection", {"count": 1}, 10, "sharing", "fail-forward",
     False),
    ("explorer", "Explorer", "distinct_tools", {"count": 3}, 15, "experimenting", "explorer", False),
    ("range", "Range", "distinct_categories", {"count": 4}, 15, "experimenting", "range", False),
    ("helped", "Helped a colleague", "each_confirmed_help", {}, 10, "helping", None, True),
    ("helper", "Helper", "helps_given", {"count": 3}, 15, "helping", "helper", False),
    ("bridge-builder", "Bridge Builder", "helps_given", {"count": 1, "across_teams": True}, 10, "helping",
     "bridge-builder", False),
    ("streak", "Streak", "active_week_streak", {"weeks": 4}, 20, "experimenting", "streak", False),
    ("reuse", "Someone reused my experiment", "each_reuse", {}, 5, "sharing", None, True),
    ("reused", "Reused", "reuses_received", {"count": 3}, 15, "sharing", "reused", False),
]


DEFAULTS_VERSION = 1


def ensure_current(organisation_id: int, now: datetime, known_version: int | None = None) -> None:
    """Cheap check on every launch: load the defaults the first time an organisation is used. known_version:
    the organisation's defaults_version as the caller just read it (the launch does, with the registration)."""
    if known_version is not None and known_version >= DEFAULTS_VERSION:
        return
    org = db.session.get(Organisation, organisation_id)
    if org.defaults_version < DEFAULTS_VERSION:
        ensure_defaults(organisation_id, now)


def ensure_defaults(organisation_id: int, now: datetime) -> None:
    """Idempotent: fills only what is missing. Two first launches of a new organisation at once take turns on its row
    (PostgreSQL; NO KEY UPDATE: nothing else waits): the second finds the first's defaults in place instead of
    failing on their unique names."""
    tenancy.lock_organisation(organisation_id)
    for kind, names in (("tools", DEFAULT_TOOLS), ("categories", DEFAULT_CATEGORIES), ("values", DEFAULT_VALUES)):
        if not items(organisation_id, kind, include_inactive=True):
            for name in names:
                ensure_item(organisation_id, kind, name)
    levels.ensure_defaults(organisation_id)
    limits_row(organisation_id)
    badges = {slug: get_or_create_badge(organisation_id, slug, now, name=name, description=description,
                                        criteria=criteria, colour=colour, manual=manual)
              for slug, name, description, criteria, colour, manual in BADGES}
    present = set(db.session.scalars(select(Rule.key).where(Rule.organisation_id == organisation_id)))
    for key, name, condition, params, points, dimension, badge, repeatable in RULE_PACK:
        if key in present:
            continue
        create_rule(organisation_id, {
            "name": name, "condition": condition, "params": params, "points": points, "dimension": dimension,
            "badge_id": badges[badge].id if badge else None, "repeatable": repeatable}, now, key=key)
    db.session.get(Organisation, organisation_id).defaults_version = DEFAULTS_VERSION
    db.session.flush()
