"""Sensible defaults for a new organisation: lists to pick from, the default rules and their badge."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from plugin.badges.service import get_or_create_badge
from plugin.catalog.service import ensure_item, items
from plugin.extensions import db
from plugin.rules.events import ExperimentLogged
from plugin.rules.models import Rule

DEFAULT_TOOLS = ["ChatGPT", "Microsoft Copilot", "Claude", "Gemini", "GitHub Copilot", "Perplexity"]
DEFAULT_CATEGORIES = ["Writing and editing", "Research and summarising", "Data and spreadsheets",
                      "Assessment design", "Coding and automation", "Meetings and planning", "Learning content"]


def ensure_defaults(organisation_id: int, now: datetime) -> None:
    """Idempotent: only fills what is missing, never overwrites an admin's changes."""
    if not items(organisation_id, "tools", include_inactive=True):
        for name in DEFAULT_TOOLS:
            ensure_item(organisation_id, "tools", name)
    if not items(organisation_id, "categories", include_inactive=True):
        for name in DEFAULT_CATEGORIES:
            ensure_item(organisation_id, "categories", name)
    if db.session.scalar(select(Rule.id).where(Rule.organisation_id == organisation_id).limit(1)) is not None:
        return
    first = get_or_create_badge(
        organisation_id, "first-experiment", now, name="First experiment",
        description="Logged a first AI experiment: the hardest step is the first one.",
        criteria="Log one AI experiment in Tinker, whatever its outcome.", colour="#2b8a3e")
    db.session.add_all([
        Rule(organisation_id=organisation_id, name="Logged an experiment", event=ExperimentLogged.name,
             condition="each_experiment", params={"require_reflection_on_failure": True}, points=10,
             dimension="experimenting", repeatable=True, created_at=now),
        Rule(organisation_id=organisation_id, name="First experiment", event=ExperimentLogged.name,
             condition="experiment_count_at_least", params={"count": 1}, points=0, badge_id=first.id,
             dimension="experimenting", repeatable=False, created_at=now),
    ])
    db.session.flush()
