"""Static file URLs carry the file's version (plugin/web/static_urls.py): browsers may keep /static/ for a week
(the deployment guide's nginx), and an upgrade that changes a script or a stylesheet must still reach them."""
from __future__ import annotations

import hashlib
import html
import os
import re

from flask import url_for

from tests.support.instances import ROOT


def _version(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:12]


def test_pages_name_their_scripts_and_styles_by_version_and_those_urls_serve_the_files(client):
    page = client.get("/", follow_redirects=True)  # the development LMS's home: a stylesheet and a script
    assert page.status_code == 200
    links = {m.split("?")[0]: html.unescape(m) for m in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)}
    for path in ("/static/css/devlms.css", "/static/js/tinker.js"):
        content = (ROOT / path.lstrip("/")).read_bytes()
        assert links[path] == f"{path}?v={_version(content)}"
        served = client.get(links[path])
        assert served.status_code == 200 and served.data == content
        served.close()


def test_a_changed_file_gets_a_new_url_and_a_missing_one_keeps_its_plain_url(app, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    sheet = tmp_path / "css" / "site.css"
    sheet.parent.mkdir()
    sheet.write_bytes(b"body { color: #111; }\n")
    with app.test_request_context():
        first = url_for("static", filename="css/site.css")
        assert first == f"/static/css/site.css?v={_version(sheet.read_bytes())}"
        assert url_for("static", filename="css/site.css") == first  # unchanged file, same URL

        sheet.write_bytes(b"body { color: #222; }\n")  # a release changed it (same size: the time tells)
        stat = sheet.stat()
        os.utime(sheet, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        second = url_for("static", filename="css/site.css")
        assert second != first and second == f"/static/css/site.css?v={_version(sheet.read_bytes())}"

        assert url_for("static", filename="css/gone.css") == "/static/css/gone.css"
        assert url_for("static", filename="../secret.txt").startswith("/static/") and "v=" not in url_for(
            "static", filename="../secret.txt")


def test_a_versioned_url_is_kept_for_a_year_and_any_other_is_revalidated(client):
    content = (ROOT / "static/js/tinker.js").read_bytes()
    current = client.get(f"/static/js/tinker.js?v={_version(content)}")
    assert current.status_code == 200 and current.data == content
    assert current.cache_control.max_age == 365 * 24 * 3600 and current.cache_control.immutable
    assert current.cache_control.public and not current.cache_control.no_cache
    current.close()

    # A copy kept as doubtful (served before, or during an upgrade) that asks again stays so: the 304 vouches for it
    # by the file's time and size (Werkzeug's ETag), not by its content.
    again = client.get(f"/static/js/tinker.js?v={_version(content)}",
                       headers={"If-None-Match": current.headers["ETag"]})
    assert again.status_code == 304 and not again.cache_control.immutable and again.cache_control.no_cache

    for url in ("/static/js/tinker.js", "/static/js/tinker.js?v=0123456789ab"):  # no version, another release's
        other = client.get(url)
        assert other.status_code == 200 and other.data == content
        assert not other.cache_control.immutable and not other.cache_control.max_age, url
        assert other.cache_control.no_cache, url  # asked again each time: this URL's content may change
        other.close()
    assert client.get("/static/js/missing.js?v=0123456789ab").status_code == 404


_OLD, _NEW = b"console.log(1);\n", b"console.log(22);\n"


def _upgrade_under_way(app, tmp_path, monkeypatch, *, lands_after_open: bool):
    """/static/site.js holds _OLD, and its next request sees _NEW land in its place (as git writes a file: a new one
    renamed over it) once the file is open, or before. Returns the view as it was, to put back."""
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    script = tmp_path / "site.js"
    script.write_bytes(_OLD)
    served = app.view_functions["static"]

    def land() -> None:
        landed = tmp_path / "site.js.new"
        landed.write_bytes(_NEW)
        os.replace(landed, script)

    def replaced(**kwargs):
        if not lands_after_open:
            land()
        response = served(**kwargs)
        if lands_after_open:
            land()
        return response

    monkeypatch.setitem(app.view_functions, "static", replaced)
    return served


def test_a_file_replaced_while_it_is_served_is_not_kept_under_its_url(app, tmp_path, monkeypatch):
    """A rolling upgrade: a page from an upgraded instance names the new version, and this instance, its `git pull`
    under way, opened the old copy before the new one landed. That response is the old file: it must not be kept for a
    year under the new version's URL."""
    served = _upgrade_under_way(app, tmp_path, monkeypatch, lands_after_open=True)
    client = app.test_client()
    during = client.get(f"/static/site.js?v={_version(_NEW)}")
    assert during.status_code == 200 and during.data == _OLD
    assert not during.cache_control.immutable and not during.cache_control.max_age and during.cache_control.no_cache
    during.close()

    monkeypatch.setitem(app.view_functions, "static", served)
    after = client.get(f"/static/site.js?v={_version(_NEW)}")  # the new file throughout: kept
    assert after.data == _NEW and after.cache_control.immutable
    after.close()


def test_a_file_replaced_before_it_is_opened_is_not_kept_under_the_old_url(app, tmp_path, monkeypatch):
    """The other side of the same upgrade: the page named the old version, and the new file landed after the request
    began but before the file was opened. The new file goes out under the old URL: not to be kept."""
    _upgrade_under_way(app, tmp_path, monkeypatch, lands_after_open=False)
    response = app.test_client().get(f"/static/site.js?v={_version(_OLD)}")
    assert response.status_code == 200 and response.data == _NEW
    assert not response.cache_control.immutable and response.cache_control.no_cache
    response.close()


def test_a_copy_keeping_the_old_files_time_and_size_gets_its_own_version(app, tmp_path, monkeypatch):
    """rsync -a, cp -p and tar keep a file's modification time: the same time and size do not make it the same file."""
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    sheet = tmp_path / "site.css"
    sheet.write_bytes(b"a { color: #111; }\n")
    kept = sheet.stat()
    with app.test_request_context():
        first = url_for("static", filename="site.css")
        landed = tmp_path / "site.css.new"
        landed.write_bytes(b"a { color: #222; }\n")  # the same size
        os.utime(landed, ns=(kept.st_atime_ns, kept.st_mtime_ns))  # and the old file's time
        os.replace(landed, sheet)
        second = url_for("static", filename="site.css")
    assert second != first and second == f"/static/site.css?v={_version(sheet.read_bytes())}"
    response = app.test_client().get(first)  # the old URL now serves the new file: not kept
    assert not response.cache_control.immutable
    response.close()
