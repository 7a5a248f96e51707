"""Synthetic practice data a manager attaches to a sandbox mission: small text files only, never HTML.

Checked on the way in (size, extension, UTF-8 text, no markup that a browser would run) and always served
back as a download with a content type chosen here, not by the uploader.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from werkzeug.utils import secure_filename

from plugin.errors import InvalidInput
from plugin.i18n import gettext as _

MAX_BYTES = 200 * 1024
TYPES = {".csv": "text/csv", ".txt": "text/plain", ".json": "application/json", ".md": "text/markdown",
         ".markdown": "text/markdown"}
PASTED_NAME = "practice-data.txt"
_MARKUP = re.compile(rb"<\s*(!doctype\s+html|html|head|body|script|iframe|object|embed|svg)\b", re.I)


@dataclass(frozen=True)
class Dataset:
    name: str
    content_type: str
    content: bytes


def _refuse(message: str, field: str = "dataset") -> InvalidInput:
    return InvalidInput(message, errors={field: [message]})


def check_dataset(filename: str, content: bytes, field: str = "dataset") -> Dataset:
    """The file as Tinker will keep it, or InvalidInput (422) saying what to change."""
    if len(content) > MAX_BYTES:
        raise _refuse(_("The data set is too large (%(size)s KB): attach at most %(limit)s KB.",
                        size=len(content) // 1024, limit=MAX_BYTES // 1024), field)
    if not content.strip():
        raise _refuse(_("The data set is empty."), field)
    name = secure_filename(filename or "") or PASTED_NAME
    extension = ("." + name.rsplit(".", 1)[1].lower()) if "." in name else ""
    if extension not in TYPES:
        raise _refuse(_("Attach a CSV, TXT, JSON or Markdown file (.csv, .txt, .json, .md); "
                        "HTML and other formats are not accepted."), field)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(_("The data set must be a text file saved as UTF-8."), field) from None
    if _MARKUP.search(content):
        raise _refuse(_("The data set looks like a web page (HTML or script): attach plain data instead."), field)
    if extension == ".json":
        try:
            json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            raise _refuse(_("The JSON file could not be read: check that it is valid JSON."), field) from None
    return Dataset(name[:200], TYPES[extension], content)
