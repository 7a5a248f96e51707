"""Names: what people call the things they make (teams, list items, badges, levels, rules, pillars, challenges)
and what an LMS calls people and courses, stored in one form.

- Unicode NFC. The same name typed on two keyboards ("Çizelge" as one precomposed "Ç", or as "C" and a combining
  cedilla, as macOS and some input methods send it) is then the same text: one team, one list item, and a search
  for it finds both spellings.
- No control characters (C0, DEL, C1: escape codes, bells, stray carriage returns). None shows on a page; they break
  CSV cells, log lines and e-mail headers. Each becomes a space. Format characters stay (zero-width joiners of emoji,
  bidirectional marks of Arabic or Hebrew names).
- One space between words, none at the ends: "Red  team" and "Red team" are one team.

Names compare whatever their case (core.text_fold), in NFC too. Free text (what someone tried or learned, a
description) is not tidied so: its line breaks are its own."""
from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def tidy(value: str | None, limit: int | None = None) -> str:
    """A name as it is stored: NFC, control characters as spaces, runs of whitespace as one space, trimmed; with
    `limit`, cut to that many characters (and trimmed again: a cut never leaves a space at the end)."""
    name = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", value or "")).split())
    return name if limit is None or len(name) <= limit else name[:limit].rstrip()
