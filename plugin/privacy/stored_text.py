"""Text Tinker itself writes into people's records, in English (the source language), shown in the reader's.

Erasure replaces what a person wrote with "[erased]" and their name with "Erased learner 1a2b"; the retention
purge replaces old titles. The database keeps the English (it is data, the same for every reader, and exports
and the API give it as stored); every page shows it in the reader's language through `shown`, which the Jinja
environment applies to each value a template writes (plugin/i18n.py). Anything else passes unchanged.
"""
from __future__ import annotations

import re

from markupsafe import Markup, escape

from plugin.i18n import gettext as _
from plugin.privacy.erase import ERASED, PSEUDONYM_PREFIX
from plugin.privacy.retention import PURGED_TITLE

_PSEUDONYM = re.compile(re.escape(PSEUDONYM_PREFIX) + r"([0-9a-f]{4})\b")


def shown(value):
    """The value with Tinker's own stored English in the reader's language (a str or Markup stays one)."""
    if not isinstance(value, str) or ("[" not in value and PSEUDONYM_PREFIX not in value):
        return value  # nearly every value: two substring checks
    markup = isinstance(value, Markup)
    text = str(value)

    def said(translated: str) -> str:
        return str(escape(translated)) if markup else translated

    if ERASED in text:
        text = text.replace(ERASED, said(_("[erased]")))
    if PURGED_TITLE in text:
        text = text.replace(PURGED_TITLE, said(_("[text removed after the retention period]")))
    if PSEUDONYM_PREFIX in text:
        text = _PSEUDONYM.sub(lambda m: said(_("Erased learner %(code)s", code=m.group(1))), text)
    return Markup(text) if markup else text
