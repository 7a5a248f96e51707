"""Two app instances (separate gunicorn processes, as behind a load balancer) share one database and nothing
else: a login started on instance A completes its launch on instance B, a launch token from one works on the
other, a replayed launch is refused by both, and an experiment logged on A is on B's leaderboard at once."""
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

import pytest
import requests

from plugin.devlms.roster import PEOPLE_BY_SUB
from tests.web.helpers import autopost, next_url

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """`gunicorn 'plugin:create_app()'` configured only through the environment, as in production."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--chdir", str(ROOT), "--workers", "2", "--bind",
             f"127.0.0.1:{self.port}", "--log-level", "warning", "--error-logfile", str(log), "plugin:create_app()"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                if requests.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"instance on {self.base} never became ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def instances(app, db_url, tmp_path):
    """A and B behind one public URL (A's: the LMS registration names one URL; which instance answers is the
    load balancer's choice, played here by the test)."""
    from plugin.core.clock import utcnow
    from plugin.devlms.seed import seed
    from plugin.extensions import db

    port_a = _free_port()
    public = f"http://127.0.0.1:{port_a}"  # A serves the public URL
    env = {**os.environ, "TINKER_DATABASE_URL": db_url, "TINKER_SECRET_KEY": secrets.token_hex(32),
           "TINKER_BASE_URL": public, "TINKER_DEV_LMS": "1", "TINKER_DEV_LMS_KEY_PATH": str(tmp_path / "lms-key.pem"),
           "TINKER_ROSTER_SYNC_ON_LAUNCH": "0", "TINKER_LOG_JSON": "0", "PYTHONPATH": str(ROOT)}
    a = Instance(env, tmp_path / "a.log", port_a)
    b = Instance(env, tmp_path / "b.log")
    with app.app_context():
        seed(public, utcnow())
        db.session.commit()
    try:
        a.wait(), b.wait()
        yield a, b
    finally:
        a.stop(), b.stop()


def _on(instance: Instance, url: str) -> str:
    """The same path on another instance (what the load balancer decides)."""
    return instance.base + url[len(url.split("/", 3)[0] + "//" + url.split("/", 3)[2]):]


def _form(response) -> tuple[str, dict[str, str]]:
    body = response.text
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', body).group(1))
    return action, {html.unescape(n): html.unescape(v)
                    for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body)}


def test_a_login_on_one_instance_launches_on_the_other_and_their_data_is_one(instances):
    a, b = instances
    browser = requests.Session()
    login = autopost(browser, browser.post(f"{a.base}/dev/lms/launch",
                                           data={"sub": "dev-learner-30", "course": "dev-course-202"}))
    assert login.status_code in (200, 302)  # A stored state and nonce and sent the browser to the platform
    id_token_post = browser.get(next_url(login))
    action, fields = _form(id_token_post)
    assert action == f"{a.base}/lti/launch"
    launched = browser.post(_on(b, action), data=fields, allow_redirects=False)  # ...but B receives the launch
    assert launched.status_code in (302, 303), launched.text[:500]
    token = re.search(r"lt=([^&]+)", launched.headers["Location"]).group(1)
    home = browser.get(_on(b, launched.headers["Location"]) if launched.headers["Location"].startswith("http")
                       else b.base + launched.headers["Location"])
    assert home.status_code == 200 and html.escape(PEOPLE_BY_SUB["dev-learner-30"].name) in home.text

    replay = requests.post(f"{a.base}/lti/launch", data=fields, cookies=browser.cookies, allow_redirects=False)
    assert replay.status_code in (400, 401, 403), "a nonce used on B must be spent on A too"

    def my_points(instance: Instance) -> int:
        board = browser.get(f"{instance.base}/app/leaderboard", params={"lt": token, "period": "week"})
        assert board.status_code == 200
        row = re.search(r'<tr[^>]*aria-current="true"[^>]*>(.*?)</tr>', board.text, re.S)
        return int(re.search(r'<td class="num">(\d+)</td>', row.group(1)).group(1)) if row else 0

    before = my_points(b)
    form = browser.get(f"{a.base}/app/experiments/new", params={"lt": token})
    assert form.status_code == 200  # B's launch token is good on A
    page = form.text
    pick = lambda name: re.search(rf'<select[^>]*name="{name}"[^>]*>.*?<option value="(\d+)"', page, re.S).group(1)
    title = f"Two instances {secrets.token_hex(3)}"
    logged = browser.post(f"{a.base}/app/experiments", allow_redirects=False, data={
        "lt": token, "submission_key": re.search(r'name="submission_key" value="([^"]+)"', page).group(1),
        "title": title, "ai_tool": pick("ai_tool"), "task_category": pick("task_category"),
        "tried": "Logged on instance A, looked on instance B.", "outcome": "worked", "learned": "",
        "minutes_saved": "5", "sensitive_data": "no", "visibility": "course"})
    assert logged.status_code == 303

    mine = browser.get(f"{b.base}/app/experiments", params={"lt": token})
    assert mine.status_code == 200 and title in html.unescape(mine.text)
    assert my_points(b) > before, "B's board counts the experiment logged on A at once"
