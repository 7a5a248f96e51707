"""Real-browser tests: Playwright driving Debian's chromium (no downloaded browser builds)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("TINKER_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
# Frames of another site in the renderer of the page that embeds them (no out-of-process iframes): on a loaded
# machine Playwright now and then lost an LMS frame that had navigated to the tool's site in another process (its URL
# stuck at the LMS's page, its document never answering, though the tool had served every request). Cookies, their
# partitioning and blocking, and storage are decided by the sites involved, not by the process a frame runs in.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--disable-site-isolation-trials",
                 "--disable-features=IsolateOrigins,site-per-process"]


# What the page shows after a click may take seconds on a loaded 2-core CI machine (the suite's other worker, its
# database, chromium and the tool's server share the cores): an assertion waits up to 15 s for it, not Playwright's
# default 5 s. A passing assertion returns as soon as it holds; only a failing one waits longer.
EXPECT_TIMEOUT_MS = 15_000


def chromium_path() -> str | None:
    return os.environ.get("TINKER_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if not path:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (.ci/run installs Debian's chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
