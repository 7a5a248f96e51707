"""Eight browsers (threads) released together through a barrier, submitting the same form to the real
HTTP server: the experiment is recorded once and awarded once."""
import re
import threading

import requests
from sqlalchemy import func, select

from tests.web.helpers import autopost, next_url


def _launch(base: str, sub: str) -> tuple[requests.Session, str]:
    browser = requests.Session()
    login = autopost(browser, browser.post(f"{base}/dev/lms/launch", data={"sub": sub, "course": "dev-course-202"}))
    launched = autopost(browser, browser.get(next_url(login)))
    return browser, re.search(r"lt=([^&]+)", launched.headers["Location"]).group(1)


def test_the_same_submission_from_eight_racing_requests_is_recorded_and_awarded_once(live_server):
    from plugin.experiments.models import Experiment
    from plugin.extensions import db
    from plugin.ledger.models import LedgerEntry
    from plugin.ledger.service import verify_totals

    assert live_server.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    base = live_server.base_url
    browser, token = _launch(base, "dev-learner-30")
    form = browser.get(f"{base}/app/experiments/new", params={"lt": token}).text
    pick = lambda name: re.search(rf'<select[^>]*name="{name}"[^>]*>.*?<option value="(\d+)"', form, re.S).group(1)
    data = {"lt": token, "submission_key": re.search(r'name="submission_key" value="([^"]+)"', form).group(1),
            "title": "Eight tabs, one experiment", "ai_tool": pick("ai_tool"), "task_category": pick("task_category"),
            "tried": "Clicked save in eight tabs at once to see what happens.", "outcome": "worked",
            "learned": "", "minutes_saved": "5", "sensitive_data": "no", "visibility": "course"}
    barrier = threading.Barrier(8, timeout=30)
    statuses: list[int] = []

    def submit():
        session = requests.Session()
        session.cookies.update(browser.cookies)
        barrier.wait()
        statuses.append(session.post(f"{base}/app/experiments", data=data, allow_redirects=False).status_code)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [303] * 8
    with live_server.app_context():
        experiments = db.session.scalars(select(Experiment).where(Experiment.title == "Eight tabs, one experiment")).all()
        assert len(experiments) == 1
        keys = db.session.scalars(select(LedgerEntry.idempotency_key).where(
            LedgerEntry.source_type == "experiment", LedgerEntry.source_id == experiments[0].id)).all()
        assert len(keys) == len(set(keys)) >= 1
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.idempotency_key == f"rule:{_logged_rule_id()}:experiment:{experiments[0].id}")) == 1
        assert verify_totals() == []


def _logged_rule_id() -> int:
    from plugin.extensions import db
    from plugin.rules.models import Rule

    return db.session.scalar(select(Rule.id).where(Rule.key == "logged"))
