"""The Content-Disposition of a download whose name may hold any letter (a Turkish dimension's name): header values
are Latin-1, so an ASCII name for every client and the exact one as RFC 6266's filename* in UTF-8."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote


def attachment(filename: str) -> str:
    simple = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    simple = re.sub(r'[^A-Za-z0-9._-]+', "-", simple).strip("-") or "download"
    if simple == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{simple}\"; filename*=UTF-8''{quote(filename, safe='')}"
