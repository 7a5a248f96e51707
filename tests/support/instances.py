"""Tinker served the production way for tests that need real processes: `gunicorn 'plugin:create_app()'`
configured only through the environment, started and stopped per test; and a learner launched into it
through the development LMS over HTTP, as a browser does."""
from __future__ import annotations

import html
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.web.helpers import autopost, next_url

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance_env(database_url: str, public_url: str, key_dir: Path, **extra: str) -> dict[str, str]:
    """What every instance behind one public URL shares: database, secret key, URL, development LMS key."""
    return {**os.environ, "TINKER_DATABASE_URL": database_url, "TINKER_SECRET_KEY": secrets.token_hex(32),
            "TINKER_BASE_URL": public_url, "TINKER_DEV_LMS": "1",
            "TINKER_DEV_LMS_KEY_PATH": str(key_dir / "lms-key.pem"), "TINKER_ROSTER_SYNC_ON_LAUNCH": "0",
            "TINKER_LOG_JSON": "0", "PYTHONPATH": str(ROOT), **extra}


class Instance:
    def __init__(self, env: dict[str, str], log: Path, port: int | None = None, workers: int = 2) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--chdir", str(ROOT), "--workers", str(workers), "--bind",
             f"127.0.0.1:{self.port}", "--log-level", "warning", "--error-logfile", str(log), "--timeout", "60",
             "plugin:create_app()"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(log.with_suffix(".stderr"), "w"),  # noqa: SIM115
            start_new_session=True)

    def wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.tail()
            try:
                if requests.get(f"{self.base}/readyz", timeout=10).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or its workers still booting
                pass
            time.sleep(0.2)
        raise AssertionError(f"instance on {self.base} never became ready: {self.tail()}")

    def tail(self) -> str:
        """The end of gunicorn's log and of the app's own log lines (standard error)."""
        return "".join(path.read_text()[-3000:] for path in (self.log, self.log.with_suffix(".stderr"))
                       if path.exists())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def form_of(response) -> tuple[str, dict[str, str]]:
    """An auto-posting form's action and hidden fields."""
    body = response.text
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', body).group(1))
    return action, {html.unescape(n): html.unescape(v)
                    for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)}


def launch(base: str, sub: str, course: str = "dev-course-202") -> tuple[requests.Session, str]:
    """A learner launched from the development LMS: their browser session and launch token."""
    browser = requests.Session()
    login = autopost(browser, browser.post(f"{base}/dev/lms/launch", data={"sub": sub, "course": course}))
    launched = autopost(browser, browser.get(next_url(login)))
    assert launched.status_code in (302, 303), launched.text[:500]
    return browser, re.search(r"lt=([^&]+)", launched.headers["Location"]).group(1)


def experiment_fields(browser: requests.Session, base: str, token: str) -> dict[str, str]:
    """The new-experiment form's choices (first tool, first category) and a fresh submission key."""
    page = browser.get(f"{base}/app/experiments/new", params={"lt": token}).text
    pick = lambda name: re.search(rf'<select[^>]*name="{name}"[^>]*>.*?<option value="(\d+)"', page, re.S).group(1)  # noqa: E731
    return {"lt": token, "submission_key": re.search(r'name="submission_key" value="([^"]+)"', page).group(1),
            "ai_tool": pick("ai_tool"), "task_category": pick("task_category"), "outcome": "worked", "learned": "",
            "minutes_saved": "5", "sensitive_data": "no", "visibility": "course"}
