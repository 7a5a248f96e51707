"""Diagnostics Tinker writes into records in English, shown in the reader's language.

A delivery's error or note (webhooks, xAPI, grade sync, e-mail) and a course's roster sync status are stored in
English, the source language: they are data, the same for every reader, and the API, exports and logs give them
as stored. Each such message is a `Message`, defined once (plugin/<package>/messages.py) and used both where it
is written (`MESSAGE(status=503, detail=...)`) and where it is shown: `shown_diagnostic` (the `diagnostic` Jinja
filter) matches the stored text against every message's pattern and gives the reader's translation with the same
parameters. What another system said inside a message (a receiver's answer, the LMS's error) stays as it said it;
a parameter named in `nested` is Tinker's own message again (an outbox "Retry: ..." wraps the handler's), shown
the same way. Text no message matches is shown as stored.

`N_` marks the English for the catalog (`make translations` extracts it) without translating it.
"""
from __future__ import annotations

import importlib
import re
from functools import cache

from plugin.i18n import gettext

_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")
_messages: list[Message] = []

# The modules that define messages: imported before the first stored text is shown.
MODULES = ("plugin.outbox.messages", "plugin.webhooks.messages", "plugin.xapi.messages", "plugin.lti.messages")


def N_(english: str) -> str:  # noqa: N802 - gettext's name for "mark, do not translate"
    return english


class Message:
    """One English message Tinker stores: `%(name)s` any text, `%(name)d` a whole number."""

    def __init__(self, english: str, nested: tuple[str, ...] = ()) -> None:
        self.english, self.nested = english, nested
        parts, at, literal = [], 0, 0
        found = list(_PLACEHOLDER.finditer(english))
        for index, placeholder in enumerate(found):
            parts.append(re.escape(english[at:placeholder.start()]))
            literal += placeholder.start() - at
            name, kind = placeholder.groups()
            last = index == len(found) - 1 and placeholder.end() == len(english)
            parts.append(f"(?P<{name}>-?\\d+)" if kind == "d" else f"(?P<{name}>.*)" if last else f"(?P<{name}>.*?)")
            at = placeholder.end()
        parts.append(re.escape(english[at:]))
        self.literal = literal + len(english) - at  # how much fixed text it has
        self.names = [p.group(1) for p in found]
        self.pattern = re.compile("".join(parts), re.DOTALL)
        _messages.append(self)
        _ordered.cache_clear()

    def __call__(self, **params) -> str:
        """The English text to store."""
        return self.english % params if self.names else self.english

    def match(self, text: str) -> dict[str, str] | None:
        found = self.pattern.fullmatch(text)
        return found.groupdict() if found else None

    def translated(self, params: dict[str, str]) -> str:
        shown = {name: (shown_diagnostic(value) if name in self.nested else value) for name, value in params.items()}
        # %(name)d filled from the stored digits: the same number, whatever the reader's language
        template = _PLACEHOLDER.sub(lambda m: f"%({m.group(1)})s", gettext(self.english))
        return template % shown if self.names else template


@cache
def _ordered() -> tuple[Message, ...]:
    for module in MODULES:
        importlib.import_module(module)
    # A wrapper first ("Retry: POST https://...: HTTP 503" is the outbox's Retry around an AGS message, not an AGS
    # message whose method is "Retry:"), then the most specific: the most fixed text.
    return tuple(sorted(_messages, key=lambda m: (not m.nested, -m.literal)))


def known_messages() -> tuple[Message, ...]:
    return _ordered()


def find(text: str) -> tuple[Message, dict[str, str]] | None:
    """The message a stored text was written from, with its parameters (None: not one of Tinker's)."""
    for message in _ordered():
        params = message.match(text)
        if params is not None:
            return message, params
    return None


def fit(text: str, limit: int) -> str:
    """The stored text shortened to at most `limit` characters (a column's length) so that it still reads as the
    message it was written from: its free text (`%(name)s`, a nested message the same way) is cut, marked with an
    ellipsis, and the message's own words are kept, so readers get it in their language. Other text is cut."""
    if len(text) <= limit:
        return text
    found = find(text)
    if found is None:
        return text[:limit]
    message, params = found
    kinds = dict(_PLACEHOLDER.findall(message.english))
    free = {name: value for name, value in params.items() if kinds[name] == "s"}
    budget = limit - (len(text) - sum(len(value) for value in free.values()))
    if budget < 0:
        return text[:limit]
    shares, left = {}, budget  # the shortest keep their length; the longer share what is left equally
    ordered = sorted(free, key=lambda name: len(free[name]))
    for index, name in enumerate(ordered):
        share = left // (len(ordered) - index)
        shares[name] = min(len(free[name]), share)
        left -= shares[name]
    shortened = {name: value if len(value) <= shares[name]
                 else fit(value, shares[name]) if name in message.nested and find(value) is not None
                 else value[:max(shares[name] - 1, 0)] + "…" * (shares[name] > 0)
                 for name, value in free.items()}
    shown = message(**{**{name: int(value) for name, value in params.items() if kinds[name] == "d"}, **shortened})
    again = find(shown)
    return shown if len(shown) <= limit and again is not None and again[0] is message else text[:limit]


def shown_diagnostic(value):
    """A stored diagnostic in the reader's language (anything else, and None, unchanged)."""
    if not isinstance(value, str) or not value:
        return value
    found = find(value)
    return found[0].translated(found[1]) if found else value
