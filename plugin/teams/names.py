"""The name Tinker gives a team mirroring an LMS group that came without one: stored in English, shown in the
reader's language (`|team_name` in templates), as seeded defaults are (plugin/onboarding/names.py).

The database, the API and exports keep the English; a page shows "Group 17" to an English reader and "Grup 17" to
a Turkish one. A name an LMS or a manager wrote is shown as written, even one that reads like Tinker's ("Group 7"
typed by a manager, or an LMS group named "Group 2" whose LMS id is another): only a team whose external id is the
one in its name got it from Tinker.
"""
from __future__ import annotations

import re

from plugin.diagnostics import N_
from plugin.extensions import db
from plugin.i18n import gettext
from plugin.teams.models import Team

LMS_GROUP = N_("Group %(id)s")
_LMS_GROUP = re.compile(r"Group (\S+)")


def lms_group_name(external_id: str) -> str:
    """The stored name of an LMS group that has none."""
    return LMS_GROUP % {"id": external_id}


def team_name(name, team_id: int | None):
    """A team's name in the reader's language when it is the name Tinker gave a nameless LMS group: the team (by
    id; looked up only for a name of that shape, in the request's session) mirrors the LMS group the name names."""
    found = _LMS_GROUP.fullmatch(name) if isinstance(name, str) else None
    if found is None or team_id is None:
        return name
    team = db.session.get(Team, team_id)
    return gettext(LMS_GROUP, id=found.group(1)) if team is not None and team.external_id == found.group(1) else name
