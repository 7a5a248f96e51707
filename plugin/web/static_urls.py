"""Static file URLs that change when the file does: url_for('static', filename=...) gets `v=`, the first 12 hex
digits of the file's SHA-256.

The deployment guide's nginx lets browsers keep /static/ for a week. Without a version in the URL, a release that
changes tinker.js or a stylesheet would run next to last week's copy in people's browsers until then; with it,
the new page names new URLs and the old copies are simply never asked for again. Every instance of one release
computes the same versions (they depend on the files alone). Each process remembers a file's version by its
inode, change and modification times and size, so a page costs one stat() per static URL, and a file edited under a
running development server gets a new version at once.

Served by Tinker itself (no nginx in front, or a load balancer only), a URL whose `v=` is the file's version is kept
for a year without asking again (`immutable`): without it every page revalidated its stylesheets and script, a
request each, from inside the LMS frame. Any other URL (no `v=`, or one naming another release's version, as a page
from an instance not yet upgraded does) is served as before, to be revalidated, so no copy is kept long under a
URL whose content may change. Nor is a file replaced while its request was under way (an upgrade's `git pull` under
the running service): its version is taken before the file is opened and again once it is open, and both must be
the one asked for. Only a 200 with the file is marked so: a 304 confirms the browser's copy by an ETag made of the
file's time and size, not its content, so a copy kept as doubtful stays so."""
from __future__ import annotations

import hashlib
import os

from flask import Flask, Response, g, request
from werkzeug.security import safe_join

VERSION_PARAM = "v"
_HEX_DIGITS = 12
_A_YEAR = 365 * 24 * 3600


def register_static_versions(app: Flask) -> None:
    # path -> (what tells the file apart, its version). The inode and the change time too, not the modification time
    # and size alone: a copy that keeps the old file's time (rsync -a, cp -p, tar) and size is still another file.
    known: dict[str, tuple[tuple[int, ...], str]] = {}

    def version_of(filename: str) -> str | None:
        path = safe_join(app.static_folder or "", filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:  # a missing file keeps its plain URL (and gets its 404)
            return None
        identity = (stat.st_ino, stat.st_ctime_ns, stat.st_mtime_ns, stat.st_size)
        seen = known.get(path)
        if seen is not None and seen[0] == identity:
            return seen[1]
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                digest.update(chunk)
        version = digest.hexdigest()[:_HEX_DIGITS]
        known[path] = (identity, version)
        return version

    @app.url_defaults
    def add_static_version(endpoint: str, values: dict) -> None:
        if endpoint != "static" or VERSION_PARAM in values or not values.get("filename"):
            return
        version = version_of(values["filename"])
        if version is not None:
            values[VERSION_PARAM] = version

    def asked_and_current() -> bool:
        asked = request.args.get(VERSION_PARAM)
        return bool(asked) and asked == version_of((request.view_args or {}).get("filename", ""))

    @app.before_request
    def note_version_asked() -> None:
        if request.endpoint == "static":
            g.static_version_current = asked_and_current()

    @app.after_request
    def keep_versioned_files(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code != 200 or request.method not in ("GET", "HEAD"):
            return response
        if g.get("static_version_current") and asked_and_current():
            response.cache_control.no_cache = None
            response.cache_control.public = True
            response.cache_control.max_age = _A_YEAR
            response.cache_control.immutable = True
        return response
