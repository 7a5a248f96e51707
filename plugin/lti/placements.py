"""Views a manager can place in the LMS by deep linking, and where a placed link's launch lands.

A placed link carries the custom parameter tinker_view=<key>; adding a placeable view means adding an
entry here (later: team progress, a challenge).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for

from plugin.core.actor import Role
from plugin.i18n import lazy_gettext as _l

CUSTOM_VIEW = "tinker_view"
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Placeable:
    key: str
    title: str  # lazy: in the language of whoever places it
    description: str
    endpoint: str
    params: dict = field(default_factory=dict)
    roles: frozenset[Role] = EVERYONE  # who may open it; anyone else lands on their home page


PLACEABLE: dict[str, Placeable] = {p.key: p for p in (
    Placeable("dashboard", _l("My dashboard"), _l("Each person's points, badges and recent experiments "
                                                  "(instructors see the course overview)."), "learner.home"),
    Placeable("log-experiment", _l("Log an experiment"), _l("Opens the form for logging an AI experiment."),
              "learner.experiment_new", roles=frozenset({Role.LEARNER, Role.MANAGER, Role.ADMIN})),
    Placeable("leaderboard", _l("Leaderboard"), _l("The course's standings."), "boards.leaderboard"),
)}
HOME = "learner.home"


def choices() -> list[Placeable]:
    return list(PLACEABLE.values())


def landing_url(view: str | None, role: Role, **values) -> str:
    """Where a launch goes: the placed view when known and open to the role, else the home page."""
    placed = PLACEABLE.get(view or "")
    if placed is None or role not in placed.roles:
        return url_for(HOME, **values)
    return url_for(placed.endpoint, **placed.params, **values)
