"""Ids and whole numbers from the pages' forms and query strings, read with one bounded parser (plugin.core.ids):
Flask's type=int takes any length of digits (and "٣"), which the database then refuses with a server error."""
from __future__ import annotations

from flask import request

from plugin.core.ids import MAX_ID, bounded_int, parse_id
from plugin.errors import InvalidInput
from plugin.i18n import gettext as _


def _refuse(name: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors={name: [message]})  # said at the top too: some forms show only that


def form_id(values, name: str) -> int | None:
    """The id a form field names; None when the field is missing or empty. Anything else that is not an id in
    range (a stale or hand-edited form) is refused with a message under the field (422)."""
    raw = values.get(name, "")
    if not raw.strip():
        return None
    number = parse_id(raw.strip())
    if number is None:
        raise _refuse(name, _("Choose one from the list."))
    return number


def form_ids(values, name: str) -> list[int]:
    """Every id a multi-valued field names (empty values skipped), refused as form_id refuses one."""
    return [number for raw in values.getlist(name) if (number := form_id({name: raw}, name)) is not None]


def form_whole(values, name: str, low: int = 0, high: int = MAX_ID) -> int | None:
    """A whole number from a form field; None when it is empty, a 422 with a message when it is not one in range."""
    raw = values.get(name, "").strip()
    if not raw:
        return None
    number = bounded_int(raw, low, high)
    if number is None:
        raise _refuse(name, _("A whole number from {min} to {max}.").format(min=low, max=high))
    return number


def query_id(name: str) -> int | None:
    """An id filter from the query string; one that is not an id in range filters nothing, as junk always did."""
    return request.args.get(name, type=parse_id)
