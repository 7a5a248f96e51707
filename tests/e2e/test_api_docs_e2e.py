"""The API docs page renders the generated document in a real browser, under the app's CSP, with no request
leaving the server (assets come from the swagger-ui-bundle package)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e


def test_docs_page_lists_the_operations_with_only_local_requests(page, live_server, artifacts):
    hosts, console_errors = set(), []
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.base_url}/api/v1/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    page.screenshot(path=str(artifacts / "api-docs.png"), full_page=False)
    assert any("/courses/{course_id}/insights" in p for p in paths)
    assert any("/me" in p for p in paths)
    assert hosts == {urlsplit(live_server.base_url).netloc}
    assert not [e for e in console_errors if "Content Security Policy" in e and "script" in e]
