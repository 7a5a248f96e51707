"""A pseudo-locale: every marked text, rewritten so that it can be told apart from text nobody marked.

Marked text comes out in fullwidth letters between ⟦ and ⟧ ("Log" -> "⟦Ｌｏｇ⟧"), placeholders and markup kept,
so after rendering, any plain ASCII word left on a page is text that never went through gettext (or data).
The catalog is compiled into a directory of its own as the "tr" language, so the app needs nothing special:
point BABEL_TRANSLATION_DIRECTORIES at it.
"""
from __future__ import annotations

import json
import re
import zoneinfo
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo

ROOT = Path(__file__).resolve().parents[2]
KEEP = re.compile(r"%\(\w+\)[sdifr]|%[sdifr%]|<[^>]*>|&#?\w+;|\{[\w.]*\}")
OPEN, CLOSE = "⟦", "⟧"


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if ("a" <= c <= "z" or "A" <= c <= "Z") else c for c in text)


def pseudo(text: str) -> str:
    """Letters outside placeholders, tags and entities become fullwidth; the whole is bracketed."""
    out, last = [], 0
    for match in KEEP.finditer(text):
        out += [_fullwidth(text[last:match.start()]), match.group(0)]
        last = match.end()
    out.append(_fullwidth(text[last:]))
    return OPEN + "".join(out) + CLOSE


def extract_messages() -> list[tuple[str | tuple[str, ...], str | None]]:
    """Every (msgid, context) marked in plugin/ and templates/, read with the same mapping `make translations` uses."""
    method_map, options_map = parse_mapping_cfg(open(ROOT / "plugin/translations/babel.cfg"))
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None,
                "pgettext": ((1, "c"), 2), "npgettext": ((1, "c"), 2, 3), "lazy_ngettext": (1, 2)}
    found = []
    for directory in ("plugin", "templates"):
        for _file, _line, message, _comments, context in extract_from_dir(
                ROOT / directory, method_map, options_map, keywords=keywords):
            found.append((message, context))
    return found


def build_catalog(directory: Path, locale: str = "tr") -> Path:
    """Compile the pseudo catalog as `locale` under directory; returns the directory (for BABEL_TRANSLATION_DIRECTORIES)."""
    catalog = Catalog(locale=locale)
    for message, context in extract_messages():
        if isinstance(message, tuple):
            forms = tuple(pseudo(message[min(i, 1)]) for i in range(catalog.num_plurals))
            catalog.add(message[:2], forms, context=context)
        else:
            catalog.add(message, pseudo(message), context=context)
    target = directory / locale / "LC_MESSAGES"
    target.mkdir(parents=True, exist_ok=True)
    with open(target / "messages.mo", "wb") as out:
        write_mo(out, catalog)
    return directory


class _Visible(HTMLParser):
    """Text a person sees or hears: text nodes outside script/style, and the attributes read out or shown."""

    SPOKEN = ("title", "aria-label", "placeholder", "alt", "aria-description", "aria-roledescription")
    # Not prose: scripts and styles, and identifiers shown as code (scope names, JSON, commands, URLs).
    SILENT = {"script", "style", "template", "noscript", "code", "kbd", "samp"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._silent = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SILENT:
            self._silent += 1
        values = dict(attrs)
        for name, value in attrs:
            if value and (name in self.SPOKEN or name.startswith("data-msg-")):
                self.pieces.append(value)
        if tag == "input" and values.get("type") in ("submit", "button", "reset") and values.get("value"):
            self.pieces.append(values["value"])

    def handle_endtag(self, tag):
        if tag in self.SILENT and self._silent:
            self._silent -= 1

    def handle_data(self, data):
        if not self._silent and data.strip():
            self.pieces.append(data)


def visible_pieces(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    return parser.pieces


ZONES = zoneinfo.available_timezones()
TIME_ZONE = re.compile(r"\b(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[\w/+-]+|\bUTC\b")
MARKED = re.compile(re.escape(OPEN) + r".*?" + re.escape(CLOSE), re.S)
WORD = re.compile(r"[A-Za-z]{2,}")
URLISH = re.compile(r"\b(?:https?://|www\.)\S+|\S+@\S+\.\w+|\b[\w.-]+\.(?:com|org|net|edu|example|json|csv|png|svg|zip)\b")


def unmarked(html: str, data: "DataText", allowed: set[str]) -> list[str]:
    """The pieces of a page's visible text that carry words nobody marked: data, URLs and allowed words removed."""
    problems = []
    for piece in visible_pieces(html):
        if piece.strip() in ZONES:  # a time-zone picker's options: IANA identifiers
            continue
        rest = TIME_ZONE.sub(" ", URLISH.sub(" ", MARKED.sub(" ", piece)))  # before stored text can split them
        rest = data.strip(rest)
        words = [w for w in WORD.findall(rest) if w not in allowed]
        if words:
            problems.append(" ".join(piece.split())[:160])
    return problems


LIST_MARK = re.compile(r"^\s*(?:[#>*+-]+|\d+\.)\s*")


class DataText:
    """What people and admins typed (names, titles, descriptions...): shown as it is, so never a finding."""

    def __init__(self, values: set[str]):
        variants: set[str] = set()
        for value in values:
            value = value.strip()
            if len(value) < 2 or not WORD.search(value):
                continue
            variants.add(value)
            for raw_line in value.splitlines():  # Markdown (the vision page) renders line by line, markers gone
                line = re.sub(LIST_MARK, "", raw_line)
                line = re.sub(r"[*_`]+", "", line).strip()
                line = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line)
                if len(line) >= 2:
                    variants.add(line)
                    # inline emphasis, code and links render as elements of their own: their pieces too
                    pieces = (re.sub(LIST_MARK, "", p).strip()
                              for p in re.split(r"\*\*|\*|__|`|\[|\]\([^)]*\)", raw_line))
                    variants.update(p for p in pieces if len(p) >= 2)
                    variants.update(p.strip() for p in re.split(r"(?<=[.!?:])\s+", line) if len(p.strip()) >= 2)
        ordered = sorted(variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def strip(self, text: str) -> str:
        return self._pattern.sub(" ", text) if self._pattern else text


def database_text(engine) -> set[str]:
    """Every string stored in the database (JSON leaves included): the data pages may show verbatim."""
    import sqlalchemy as sa

    values: set[str] = set()

    def leaves(value):
        if isinstance(value, str):
            values.add(value)
        elif isinstance(value, dict):  # keys too: an audit entry's details are shown as stored
            for key, item in value.items():
                leaves(key)
                leaves(item)
        elif isinstance(value, list):
            for item in value:
                leaves(item)

    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (sa.String, sa.Text, sa.JSON))
                       or c.type.__class__.__name__ in ("JSON", "JSONB")]
            if not columns:
                continue
            for row in conn.execute(sa.select(*columns)):
                for value in row:
                    if isinstance(value, str) and value[:1] in "[{":
                        try:
                            leaves(json.loads(value))
                            continue
                        except ValueError:
                            pass
                    leaves(value)
    return values
