"""Static file URLs that change when the file does: url_for('static', filename=...) gets `v=`, the first 12 hex
digits of the file's SHA-256.

The deployment guide's nginx lets browsers keep /static/ for a week. Without a version in the URL, a release that
changes tinker.js or a stylesheet would run next to last week's copy in people's browsers until then; with it,
the new page names new URLs and the old copies are simply never asked for again. Every instance of one release
computes the same versions (they depend on the files alone). Each process remembers a file's version by its
modification time and size, so a page costs one stat() per static URL, and a file edited under a running
development server gets a new version at once."""
from __future__ import annotations

import hashlib
import os

from flask import Flask
from werkzeug.security import safe_join

VERSION_PARAM = "v"
_HEX_DIGITS = 12


def register_static_versions(app: Flask) -> None:
    known: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, version)

    def version_of(filename: str) -> str | None:
        path = safe_join(app.static_folder or "", filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:  # a missing file keeps its plain URL (and gets its 404)
            return None
        seen = known.get(path)
        if seen is not None and seen[:2] == (stat.st_mtime_ns, stat.st_size):
            return seen[2]
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                digest.update(chunk)
        version = digest.hexdigest()[:_HEX_DIGITS]
        known[path] = (stat.st_mtime_ns, stat.st_size, version)
        return version

    @app.url_defaults
    def add_static_version(endpoint: str, values: dict) -> None:
        if endpoint != "static" or VERSION_PARAM in values or not values.get("filename"):
            return
        version = version_of(values["filename"])
        if version is not None:
            values[VERSION_PARAM] = version
