"""The name Tinker gives a team mirroring an LMS group that came without one: stored in English, shown in the
reader's language (`|team_name` in templates), as seeded defaults are (plugin/onboarding/names.py).

The database, the API and exports keep the English; a page shows "Group 17" to an English reader and "Grup 17" to
a Turkish one. A name an LMS or a manager wrote is shown as written.
"""
from __future__ import annotations

import re

from plugin.diagnostics import N_
from plugin.i18n import gettext

LMS_GROUP = N_("Group %(id)s")
_LMS_GROUP = re.compile(r"Group (\S+)")


def lms_group_name(external_id: str) -> str:
    """The stored name of an LMS group that has none."""
    return LMS_GROUP % {"id": external_id}


def team_name(name):
    """A team's name in the reader's language when it is the name Tinker gave a nameless LMS group."""
    found = _LMS_GROUP.fullmatch(name) if isinstance(name, str) else None
    return gettext(LMS_GROUP, id=found.group(1)) if found else name
