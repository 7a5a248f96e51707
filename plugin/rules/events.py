"""Facts the rules react to. Structured values only, so replays stay deterministic after text is erased."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ExperimentLogged:
    organisation_id: int
    course_id: int
    user_id: int
    experiment_id: int
    outcome: str
    has_reflection: bool
    ai_tool_id: int | None
    task_category_id: int
    occurred_at: datetime

    name = "experiment_logged"

    @property
    def fact_key(self) -> str:
        return f"experiment:{self.experiment_id}"

    @property
    def source(self) -> tuple[str, int]:
        return "experiment", self.experiment_id


@dataclass(frozen=True)
class Facts:
    """Aggregates about the person the event concerns, gathered once per event."""

    experiment_count: int = 0
