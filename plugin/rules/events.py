"""Facts the rules react to. Structured values only (ids, outcomes, dates, counts), never free text, so
replays stay deterministic after text is erased."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from plugin.i18n import lazy_gettext as _l

EXPERIMENT_LOGGED = "experiment_logged"   # the author may earn
HELP_CONFIRMED = "help_confirmed"         # the helper may earn
KUDOS_RECEIVED = "kudos_received"         # the receiver may earn
REACTION_RECEIVED = "reaction_received"   # the experiment's author may earn
REUSE_RECEIVED = "reuse_received"         # the experiment's author may earn
POINTS_CHANGED = "points_changed"         # after points were posted: thresholds, levels
CHALLENGE_COMPLETED = "challenge_completed"  # a learner completed a challenge (or had mission evidence accepted)

# What triggers a check, read after "Checked when" (lazy: in the admin's language).
EVENT_LABELS = {
    EXPERIMENT_LOGGED: _l("an experiment is logged"),
    HELP_CONFIRMED: _l("peer help is confirmed"),
    KUDOS_RECEIVED: _l("kudos are received"),
    REACTION_RECEIVED: _l("a reaction is received"),
    REUSE_RECEIVED: _l("someone reuses an experiment"),
    POINTS_CHANGED: _l("points change"),
    CHALLENGE_COMPLETED: _l("a challenge is completed (or mission evidence accepted)"),
}


@dataclass(frozen=True)
class Event:
    name: str
    organisation_id: int
    course_id: int
    user_id: int          # the person the event may recognise
    source_type: str      # what the fact is: experiment, peer_help, kudos, reaction, reuse
    source_id: int
    occurred_at: datetime
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fact_key(self) -> str:
        return f"{self.source_type}:{self.source_id}"
