"""The defaults Tinker seeds for a new organisation (task categories, values, dimensions, levels, badges, rule
names), shown in the reader's language for as long as an admin has not renamed them.

Seeded rows keep the English text (the source language) in the database: it is the stable value every
organisation starts from. A row still holding exactly that text is shown translated; once an admin renames it,
their words are shown as they wrote them, in every language. AI tool names are brands and stay as they are.
"""
from __future__ import annotations

from plugin.i18n import lazy_gettext as _l

SEEDED = {
    "Writing and editing": _l("Writing and editing"),
    "Research and summarising": _l("Research and summarising"),
    "Data and spreadsheets": _l("Data and spreadsheets"),
    "Assessment design": _l("Assessment design"),
    "Coding and automation": _l("Coding and automation"),
    "Meetings and planning": _l("Meetings and planning"),
    "Learning content": _l("Learning content"),
    "Curiosity": _l("Curiosity"),
    "Responsible use": _l("Responsible use"),
    "Sharing openly": _l("Sharing openly"),
    "Learning from failure": _l("Learning from failure"),
    "Helping others": _l("Helping others"),
    "Experimenting": _l("Experimenting"),
    "Trying AI on real work, whatever the outcome.": _l("Trying AI on real work, whatever the outcome."),
    "Helping": _l("Helping"),
    "Helping colleagues with their experiments, confirmed by them.":
        _l("Helping colleagues with their experiments, confirmed by them."),
    "Sharing": _l("Sharing"),
    "Sharing what you learned so others can reuse it.": _l("Sharing what you learned so others can reuse it."),
    "Curious": _l("Curious"),
    "Explorer": _l("Explorer"),
    "Practitioner": _l("Practitioner"),
    "Pathfinder": _l("Pathfinder"),
    "Catalyst": _l("Catalyst"),
    "First experiment": _l("First experiment"),
    "Logged a first AI experiment: the hardest step is the first one.":
        _l("Logged a first AI experiment: the hardest step is the first one."),
    "Log one AI experiment in Tinker, whatever its outcome.":
        _l("Log one AI experiment in Tinker, whatever its outcome."),
    "Fail Forward": _l("Fail Forward"),
    "Shared an experiment that did not work, and what it taught.":
        _l("Shared an experiment that did not work, and what it taught."),
    "Share a failed experiment with your team or course, with what you learned.":
        _l("Share a failed experiment with your team or course, with what you learned."),
    "Tried three different AI tools.": _l("Tried three different AI tools."),
    "Log experiments with 3 different AI tools.": _l("Log experiments with 3 different AI tools."),
    "Range": _l("Range"),
    "Tried AI on four different kinds of task.": _l("Tried AI on four different kinds of task."),
    "Log experiments in 4 task categories.": _l("Log experiments in 4 task categories."),
    "Helper": _l("Helper"),
    "Helped colleagues three times, as they confirmed.": _l("Helped colleagues three times, as they confirmed."),
    "Give 3 confirmed helps.": _l("Give 3 confirmed helps."),
    "Bridge Builder": _l("Bridge Builder"),
    "Helped someone from another team.": _l("Helped someone from another team."),
    "Give a confirmed help to someone outside your teams.": _l("Give a confirmed help to someone outside your teams."),
    "Streak": _l("Streak"),
    "Experimented four weeks in a row.": _l("Experimented four weeks in a row."),
    "Log an experiment in 4 consecutive weeks.": _l("Log an experiment in 4 consecutive weeks."),
    "Reused": _l("Reused"),
    "Three colleagues reused something you shared.": _l("Three colleagues reused something you shared."),
    "Three different colleagues mark an experiment of yours as reused.":
        _l("Three different colleagues mark an experiment of yours as reused."),
    "Champion": _l("Champion"),
    "Recognised by a manager as an AI champion.": _l("Recognised by a manager as an AI champion."),
    "Awarded by a manager, with evidence.": _l("Awarded by a manager, with evidence."),
    "Logged an experiment": _l("Logged an experiment"),
    "First Try": _l("First Try"),
    "Helped a colleague": _l("Helped a colleague"),
    "Someone reused my experiment": _l("Someone reused my experiment"),
}


def seeded(text):
    """A seeded default in the reader's language; anything an admin or a person wrote, unchanged."""
    if not isinstance(text, str):
        return text
    found = SEEDED.get(text)
    return text if found is None else str(found)
