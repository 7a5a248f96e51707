"""CSV files people open in a spreadsheet program: what every export of Tinker does the same way.

- A cell a spreadsheet would read as a formula (text starting with = + - @, a tab or a line break) gets a leading
  quote (CSV injection, OWASP): a learner named "=HYPERLINK(...)" must not run in the manager's spreadsheet.
  Numbers stay numbers (a negative amount is a number, not a formula).
- A file offered for download starts with a UTF-8 byte-order mark: without it Excel reads the file in the
  system's legacy code page and shows Turkish letters (İ, ş, ğ) and accents garbled.
- Rows are written as they come, in chunks (a whole board or ledger is never built in memory).
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
BOM = "\ufeff"
CHUNK = 65_536  # characters gathered before a chunk is handed on


def quoted(text: str) -> str:
    """Text as a spreadsheet shows it, never runs it."""
    return "'" + text if text.startswith(FORMULA_START) else text


def cell(value) -> str | int | float:
    """One value as a cell: nothing is empty, yes/no read as words, numbers stay numbers, lists and mappings as JSON,
    any other text quoted where it would start a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    return quoted(str(value))


def csv_chunks(header: list[str], rows: Iterable[Iterable], *, bom: bool = True) -> Iterator[str]:
    """The CSV text of a header and rows (each cell through `cell`), in chunks of about CHUNK characters; first the
    byte-order mark, unless asked not to (a file for programs, e.g. on a command line's output)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if bom:
        out.write(BOM)
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(c) for c in row])
        if out.tell() >= CHUNK:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def csv_text(header: list[str], rows: Iterable[Iterable], *, bom: bool = True) -> str:
    return "".join(csv_chunks(header, rows, bom=bom))
