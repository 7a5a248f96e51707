"""Two app instances (separate gunicorn processes, as behind a load balancer) share one database and nothing
else: a login started on instance A completes its launch on instance B, a launch token from one works on the
other, a replayed launch is refused by both, and an experiment logged on A is on B's leaderboard at once.
The same with login state and nonces in a Redis both instances are configured with."""
from __future__ import annotations

import html
import re
import secrets

import pytest
import requests

from plugin.devlms.roster import PEOPLE_BY_SUB
from tests.support.instances import Instance, experiment_fields, form_of, free_port, instance_env
from tests.web.helpers import autopost, next_url


@pytest.fixture(params=["database", "redis"])
def instances(request, app, db_url, tmp_path):
    """A and B behind one public URL (A's: the LMS registration names one URL; which instance answers is the
    load balancer's choice, played here by the test). Login state in the database, or both configured with
    one Redis (TINKER_REDIS_URL)."""
    from plugin.core.clock import utcnow
    from plugin.devlms.seed import seed
    from plugin.extensions import db

    port_a = free_port()
    public = f"http://127.0.0.1:{port_a}"  # A serves the public URL
    extra = {"TINKER_REDIS_URL": request.getfixturevalue("redis_url")} if request.param == "redis" else {}
    env = instance_env(db_url, public, tmp_path, **extra)
    a = Instance(env, tmp_path / "a.log", port_a)
    b = Instance(env, tmp_path / "b.log")
    with app.app_context():
        seed(public, utcnow())
        db.session.commit()
    try:
        a.wait(), b.wait()
        a.shared = request.param
        yield a, b
    finally:
        a.stop(), b.stop()


def _on(instance: Instance, url: str) -> str:
    """The same path on another instance (what the load balancer decides)."""
    return instance.base + url[len(url.split("/", 3)[0] + "//" + url.split("/", 3)[2]):]


def test_a_login_on_one_instance_launches_on_the_other_and_their_data_is_one(app, instances):
    a, b = instances
    browser = requests.Session()
    login = autopost(browser, browser.post(f"{a.base}/dev/lms/launch",
                                           data={"sub": "dev-learner-30", "course": "dev-course-202"}))
    assert login.status_code in (200, 302)  # A stored state and nonce and sent the browser to the platform
    if a.shared == "redis":  # ...in Redis, where B finds them; not in the database
        from sqlalchemy import func, select

        from plugin.extensions import db
        from plugin.lti.models import OidcState

        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(OidcState)) == 0
    id_token_post = browser.get(next_url(login))
    action, fields = form_of(id_token_post)
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
    fields = experiment_fields(browser, a.base, token)  # B's launch token is good on A
    title = f"Two instances {secrets.token_hex(3)}"
    logged = browser.post(f"{a.base}/app/experiments", allow_redirects=False, data={
        **fields, "title": title, "tried": "Logged on instance A, looked on instance B."})
    assert logged.status_code == 303

    mine = browser.get(f"{b.base}/app/experiments", params={"lt": token})
    assert mine.status_code == 200 and title in html.unescape(mine.text)
    assert my_points(b) > before, "B's board counts the experiment logged on A at once"
