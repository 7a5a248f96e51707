"""The admin page end to end against the real LRS: an admin launched from the LMS points Tinker at the LRS,
sends a test statement, and the status page shows the LRS's answer; a learner's experiment logged on its
page follows."""
from __future__ import annotations

from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.outbox import service as outbox
from tests.web.helpers import log_experiment, visible
from tests.xapi.spec import problems

PAGE = "/app/admin/xapi"


def test_admin_connects_tests_and_sees_what_was_sent(app, client, launch, lrs, ralph_validate):
    admin = launch(role="admin", sub="boss")
    saved = client.post(f"{PAGE}/settings", data={"lt": admin, "enabled": "on", "endpoint": lrs.endpoint + "/",
                                                  "key": lrs.key, "secret": lrs.secret})
    assert saved.status_code == 303
    assert client.post(f"{PAGE}/test", data={"lt": admin}).status_code == 303
    learner = launch(sub="learner-7")
    assert log_experiment(client, learner, outcome="worked").status_code in (200, 303)

    with app.app_context():
        counts = outbox.process_due(utcnow())  # the pages enqueued at the real time
        db.session.remove()
    assert counts.failed == 0 and counts.done >= 2

    page = visible(client.get(PAGE, query_string={"lt": admin}))
    assert "Test statement (tested the connection to)" in page and "Experiment logged (attempted)" in page
    assert "stored by the LRS (HTTP 204)" in page and "0 waiting, 0 failed." in page

    stored = lrs.statements()
    verbs = {s["verb"]["id"]: s for s in stored}
    test = verbs["http://localhost/xapi/verbs/tested-connection"]
    assert test["actor"] == {"objectType": "Agent", "account": {"homePage": "https://lms.example.edu", "name": "boss"}}
    tried = verbs["http://adlnet.gov/expapi/verbs/attempted"]
    assert tried["actor"]["account"] == {"homePage": "https://lms.example.edu", "name": "learner-7"}
    assert [problems(s) for s in stored] == [[] for _ in stored]
    assert ralph_validate(stored) == [[] for _ in stored]
