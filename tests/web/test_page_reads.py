"""Pages read each list they show once: the experiment form lists the tools and pillars beside the AI vision,
which lists them too, and the dashboard's history reads no empty list (kudos, help, givers) it has no rows for."""
from __future__ import annotations

import re

import sqlalchemy as sa

from tests.web.helpers import log_experiment


def _selects(client, path: str, token: str) -> tuple[int, list[str]]:
    """(status, the SELECTs the page sent)."""
    sent: list[str] = []

    def listen(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append(" ".join(statement.split()))

    with client.application.app_context():
        from plugin.extensions import db
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        status = client.get(path, query_string={"lt": token}).status_code
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    return status, sent


def _reading(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if re.search(rf"\bFROM {table}\b", s)]


def test_the_experiment_form_reads_the_tools_and_the_pillars_once(client, launch):
    token = launch(sub="ada")
    status, sent = _selects(client, "/app/experiments/new", token)
    assert status == 200
    assert len(_reading(sent, "ai_tool")) == 1
    assert len(_reading(sent, "pillar")) == 1
    assert len(_reading(sent, "task_category")) == 1


def test_the_dashboard_history_skips_lists_it_has_nothing_for(client, launch):
    token = launch(sub="ada")
    log_experiment(client, token, title="Summarised a policy with an assistant")
    status, sent = _selects(client, "/app/", token)
    assert status == 200
    assert not _reading(sent, "kudos")
    assert not [s for s in sent if "AS helped" in s]  # who confirmed a help: no help rows to name
    assert not [s for s in sent if s.startswith("SELECT user_account.id, user_account.name FROM user_account")]
    assert len(_reading(sent, "ledger_entry")) >= 1  # the history itself was read
