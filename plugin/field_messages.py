"""The words of errors people read on pages: marshmallow's and webargs' default field messages, and the HTTP
errors werkzeug raises, in the reader's language.

Schemas keep marshmallow's English defaults (the JSON API answers with them); a page maps each known message,
with its numbers, to its marked translation when it shows it. Messages Tinker wrote itself are already
translated where they were raised and pass through unchanged.
"""
from __future__ import annotations

import re

from plugin.i18n import format_decimal
from plugin.i18n import lazy_gettext as _l

EXACT = {
    "Missing data for required field.": _l("This field is required."),
    "Field may not be null.": _l("Field may not be null."),
    "Invalid value.": _l("Invalid value."),
    "Invalid input.": _l("Invalid input."),
    "Invalid type.": _l("Invalid type."),
    "Invalid input type.": _l("Invalid input type."),
    "Unknown field.": _l("Unknown field."),
    "Not a valid boolean.": _l("Not a valid boolean."),
    "Not a valid date.": _l("Not a valid date."),
    "Not a valid datetime.": _l("Not a valid date and time."),
    "Not a valid naive datetime.": _l("Not a valid date and time."),
    "Not a valid aware datetime.": _l("Not a valid date and time with a time zone."),
    "Not a valid time.": _l("Not a valid time."),
    "Not a valid number.": _l("Not a valid number."),
    "Not a valid integer.": _l("Not a valid integer."),
    "Number too large.": _l("Number too large."),
    "Special numeric values (nan or infinity) are not permitted.": _l("Enter an ordinary number."),
    "Not a valid string.": _l("Not a valid text."),
    "Not a valid utf-8 string.": _l("Not a valid text."),
    "Not a valid list.": _l("Not a valid list."),
    "Not a valid mapping type.": _l("Not a valid set of fields."),
    "Not a valid email address.": _l("Not a valid e-mail address."),
    "Not a valid URL.": _l("Not a valid web address."),
    "Not a valid UUID.": _l("Not a valid identifier."),
    "String does not match expected pattern.": _l("The text does not have the expected form."),
}

_N = r"(-?[\d.]+)"
PATTERNS = [
    (re.compile(rf"Length must be between {_N} and {_N}\."), _l("Length must be between %(a)s and %(b)s.")),
    (re.compile(rf"Length must be {_N}\."), _l("Length must be %(a)s.")),
    (re.compile(rf"Longer than maximum length {_N}\."), _l("At most %(a)s characters.")),
    (re.compile(rf"Shorter than minimum length {_N}\."), _l("At least %(a)s characters.")),
    (re.compile(rf"Must be greater than or equal to {_N} and less than or equal to {_N}\."),
     _l("Must be between %(a)s and %(b)s.")),
    (re.compile(rf"Must be greater than {_N} and less than or equal to {_N}\."),
     _l("Must be more than %(a)s and at most %(b)s.")),
    (re.compile(rf"Must be greater than or equal to {_N} and less than {_N}\."),
     _l("Must be at least %(a)s and less than %(b)s.")),
    (re.compile(rf"Must be greater than {_N} and less than {_N}\."), _l("Must be more than %(a)s and less than %(b)s.")),
    (re.compile(rf"Must be greater than or equal to {_N}\."), _l("Must be at least %(a)s.")),
    (re.compile(rf"Must be greater than {_N}\."), _l("Must be more than %(a)s.")),
    (re.compile(rf"Must be less than or equal to {_N}\."), _l("Must be at most %(a)s.")),
    (re.compile(rf"Must be less than {_N}\."), _l("Must be less than %(a)s.")),
    (re.compile(r"Must be one of: (.*)\."), _l("Must be one of: %(a)s.")),
    (re.compile(r"Must be equal to (.*)\."), _l("Must be %(a)s.")),
    (re.compile(r'"(.*)" cannot be formatted as a date\.'), _l("“%(a)s” is not a date.")),
]


def _number(text: str) -> str:
    try:
        return format_decimal(float(text) if "." in text else int(text))
    except ValueError:
        return text


def localise_message(message):
    """One message in the reader's language: a known default (with its numbers in the locale's style), or as it was."""
    if not isinstance(message, str):
        return message
    known = EXACT.get(message)
    if known is not None:
        return str(known)
    for pattern, translated in PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            values = [_number(v) if re.fullmatch(_N, v) else v for v in match.groups()]
            return str(translated) % dict(zip(("a", "b"), values))
    return message


def localise_field_errors(errors):
    """A field-error structure (dict / list / nested, as marshmallow and webargs build it), messages localised."""
    if isinstance(errors, dict):
        return {key: localise_field_errors(value) for key, value in errors.items()}
    if isinstance(errors, (list, tuple)):
        return [localise_field_errors(value) for value in errors]
    return localise_message(errors)


def field_words(errors) -> list[str]:
    """One field's messages as a page shows them: localised, each once, those of a list's rows too (marshmallow keys
    a list field's errors by row, {0: [...]}: joined as they were, a page showed the row number, "0")."""
    words: list[str] = []

    def collect(value) -> None:
        if isinstance(value, dict):
            for inner in value.values():
                collect(inner)
        elif isinstance(value, (list, tuple)):
            for inner in value:
                collect(inner)
        elif str(localise_message(value)) not in words:
            words.append(str(localise_message(value)))

    collect(errors)
    return words


# HTTP errors werkzeug raises (an unknown address, a wrong method...): title and message for the page.
HTTP_TEXTS = {
    400: (_l("Bad request"), _l("Tinker could not understand this request.")),
    403: (_l("Not allowed"), _l("You do not have access to this page.")),
    404: (_l("Not found"), _l("There is nothing at this address. Open Tinker again from your course.")),
    405: (_l("Not allowed"), _l("This page cannot be used that way.")),
    413: (_l("Too large"), _l("What you sent is larger than Tinker accepts.")),
    429: (_l("Too many requests"), _l("Please wait a moment and try again.")),
}
