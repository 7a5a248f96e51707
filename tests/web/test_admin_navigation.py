"""Where am I among the admin pages: the admin sub-navigation is on each of them and marks the page's own
section (aria-current, drawn as such), and the header's "Admin" stays marked on all of them."""
from __future__ import annotations

import re

import pytest

from tests.web.helpers import text

SECTIONS = {"/app/admin/rules/": "Rules", "/app/admin/rules/new": "Rules", "/app/admin/badges": "Badges",
            "/app/admin/scoring": "Dimensions, levels and limits", "/app/admin/lists": "Lists",
            "/app/admin/privacy": "Privacy", "/app/admin/api-tokens/": "API tokens", "/app/admin/xapi": "xAPI",
            "/app/admin/webhooks": "Webhooks", "/app/admin/audit": "Audit log"}


def _current(page: str, nav_label: str) -> list[str]:
    nav = re.search(rf'<nav aria-label="{nav_label}"[^>]*>(.*?)</nav>', page, re.S)
    assert nav, f"no {nav_label} navigation"
    return re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', nav.group(1))


@pytest.mark.parametrize("path", list(SECTIONS))
def test_each_admin_page_marks_its_own_section(client, launch, path):
    admin = launch(role="admin", sub="boss")
    response = client.get(path, query_string={"lt": admin})
    assert response.status_code == 200
    page = text(response)
    assert _current(page, "Administration") == [SECTIONS[path]]
    assert "Admin" in re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', page)  # the header's menu too


def test_a_limits_form_sent_back_with_errors_keeps_its_section_marked(client, launch):
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/time-zone", data={"lt": admin, "time_zone": "Mars/Olympus"})
    assert response.status_code == 422
    assert _current(text(response), "Administration") == ["Dimensions, levels and limits"]
