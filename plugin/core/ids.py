"""Whole numbers from outside (URLs, forms, query strings, JSON bodies) that name rows: from 1 to 2**31-1, the
range of an INTEGER column on PostgreSQL (SQLite's is wider), so no out-of-range number ever reaches the database
as a server error."""
from __future__ import annotations

import re

from marshmallow import validate
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1
ID_RANGE = validate.Range(min=1, max=MAX_ID)  # a schema field's: an id the database can hold
# ASCII digits only: str.isdigit() also takes "²", and int() takes "٣" and " 3 ".
_WHOLE = re.compile(r"-?[0-9]{1,10}")


def bounded_int(value, low: int = 1, high: int = MAX_ID) -> int | None:
    """value as a whole number from low to high, or None when it is missing, not one, or out of range."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _WHOLE.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if low <= number <= high else None


def parse_id(value) -> int | None:
    """A row id from 1 to MAX_ID, or None."""
    return bounded_int(value)


class IdConverter(IntegerConverter):
    """<id:name> in a route: a row id from 1 to MAX_ID, else the route does not match (404). Flask's <int:...>
    takes any length of digits, which the database then refuses with a server error."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)
