"""Private coaching notes: what the author of an experiment reads when they used a tool the AI vision does
not approve, or said confidential data went in. Kind and specific; never a penalty or a public flag."""
from __future__ import annotations

from dataclasses import dataclass

from plugin.i18n import gettext as _

UNAPPROVED_TOOL, SENSITIVE_DATA = "unapproved_tool", "sensitive_data"


@dataclass(frozen=True)
class CoachingNote:
    reason: str
    heading: str
    body: str


def notes_for(reasons: list[str], tool_name: str, approved: list[str], sensitive_answer: str) -> list[CoachingNote]:
    notes = []
    if UNAPPROVED_TOOL in reasons:
        listed = ", ".join(approved) if approved else _("the tools on the AI vision page")
        body = (_("Thank you for trying %(tool)s and for saying so. It is not on our approved list yet, so we cannot "
                  "be sure where your text goes. Next time, try the same task with %(listed)s. If %(tool)s did "
                  "something they cannot, tell your manager: that is how tools get approved.",
                  tool=tool_name, listed=listed) if tool_name else
                _("Thank you for trying a new tool and for saying so. It is not on our approved list yet, so we "
                  "cannot be sure where your text goes. Next time, try the same task with %(listed)s. If this tool "
                  "did something they cannot, tell your manager: that is how tools get approved.", listed=listed))
        notes.append(CoachingNote(UNAPPROVED_TOOL, _("About the tool you used"), body))
    if SENSITIVE_DATA in reasons:
        unsure = sensitive_answer == "unsure"
        opening = (_("You were not sure whether the data was confidential, and asking is the right instinct.")
                   if unsure else _("Thank you for being open about it."))
        notes.append(CoachingNote(SENSITIVE_DATA, _("About the data you shared"), opening + " " + _(
            "We kept this entry private to you. Before the next try, replace names, customer details and figures "
            "with made-up ones, and check the AI vision page for what each approved tool may see. If something "
            "confidential did go in, your data protection contact can help; nobody else sees this note.")))
    return notes
