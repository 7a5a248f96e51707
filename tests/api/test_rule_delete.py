"""Deleting a rule: one that never awarded anything goes; one that did is archived (it stops awarding and
leaves the lists and the editor, and what it gave stays, still explained by its name). Both are audited."""
from __future__ import annotations

from sqlalchemy import select

from tests.api.conftest import bearer, experiment_body

TEN = {"name": "Ten experiments", "condition": "experiment_count", "params": {"count": 10}, "points": 20,
       "dimension": "experimenting"}


def _audit(app, action: str, rule_id: int) -> list[dict]:
    from plugin.audit.models import AuditEvent
    from plugin.extensions import db

    with app.app_context():
        return [e.details for e in db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == action, AuditEvent.target_id == rule_id))]


def test_a_rule_that_never_awarded_is_deleted_outright(app, client, world):
    admin = bearer(world.callers["admin"])
    made = client.post("/api/v1/rules", headers=admin, json=TEN)
    assert made.status_code == 201 and made.get_json()["recognised"] == 0
    rule_id = made.get_json()["id"]
    gone = client.delete(f"/api/v1/rules/{rule_id}", headers=admin)
    assert gone.status_code == 200 and gone.get_json() == {"id": rule_id, "outcome": "deleted"}
    assert client.get(f"/api/v1/rules/{rule_id}", headers=admin).status_code == 404
    assert rule_id not in [r["id"] for r in client.get("/api/v1/rules", headers=admin).get_json()]
    again = client.delete(f"/api/v1/rules/{rule_id}", headers=admin)
    assert again.status_code == 404 and again.get_json()["error"]["code"] == "not_found"
    assert _audit(app, "rule.deleted", rule_id) == [{"name": "Ten experiments", "version": 1}]
    from plugin.extensions import db
    from plugin.rules.models import Rule, RuleVersion
    with app.app_context():
        assert db.session.get(Rule, rule_id) is None
        assert db.session.scalars(select(RuleVersion).where(RuleVersion.rule_id == rule_id)).all() == []


def test_a_rule_that_awarded_is_archived_and_keeps_explaining_what_it_gave(app, client, world):
    admin, learner = bearer(world.callers["admin"]), bearer(world.callers["learner"])
    rules = client.get("/api/v1/rules", headers=admin).get_json()
    logged = next(r for r in rules if r["condition"] == "each_experiment")  # the learner's experiment earned it
    mine = f"/api/v1/courses/{world.course_id}/ledger/mine"
    before = [e for e in client.get(mine, headers=learner).get_json() if logged["name"] in e["why"]]
    assert before, "the world's experiment should have earned points from this rule"

    archived = client.delete(f"/api/v1/rules/{logged['id']}", headers=admin)
    assert archived.status_code == 200 and archived.get_json() == {"id": logged["id"], "outcome": "archived"}
    assert logged["id"] not in [r["id"] for r in client.get("/api/v1/rules", headers=admin).get_json()]
    assert client.get(f"/api/v1/rules/{logged['id']}", headers=admin).status_code == 404
    assert client.patch(f"/api/v1/rules/{logged['id']}", headers=admin, json={"points": 3}).status_code == 404
    assert client.delete(f"/api/v1/rules/{logged['id']}", headers=admin).status_code == 404

    after = [e for e in client.get(mine, headers=learner).get_json() if logged["name"] in e["why"]]
    assert after == before  # same rows, same explanation: the rule's name at the version that gave them

    again = client.post(f"/api/v1/courses/{world.course_id}/experiments", headers=learner,
                        json=experiment_body(client, world.callers["learner"]))
    assert again.status_code == 201
    newest = [e for e in client.get(mine, headers=learner).get_json() if logged["name"] in e["why"]]
    assert newest == before  # the archived rule no longer awards
    # a full recalculation leaves what the archived rule gave alone
    from plugin.core.clock import utcnow
    from plugin.replay.service import replay
    with app.app_context():
        report = replay(world.organisation_id, utcnow())
        assert [c for c in report.points if c.rule_id == logged["id"]] == []
    [details] = _audit(app, "rule.archived", logged["id"])
    assert details == {"name": logged["name"], "version": logged["version"], "awarded": True}


def test_the_admin_page_deletes_or_archives_from_the_rule_editor(client, world):
    admin_token = world.callers["admin"]
    made = client.post("/api/v1/rules", headers=bearer(admin_token), json=TEN).get_json()
    page = client.get(f"/app/admin/rules/{made['id']}", query_string={"lt": admin_token})
    assert page.status_code == 200 and "Delete this rule" in page.get_data(as_text=True)
    unticked = client.post(f"/app/admin/rules/{made['id']}/delete", data={"lt": admin_token})
    assert unticked.status_code == 422  # one click on the button deleted at once
    assert "Tick the box to confirm: a rule deleted or archived cannot be restored." in unticked.get_data(as_text=True)
    assert client.get(f"/app/admin/rules/{made['id']}", query_string={"lt": admin_token}).status_code == 200
    done = client.post(f"/app/admin/rules/{made['id']}/delete", data={"lt": admin_token, "confirm": "on"},
                       follow_redirects=True)
    assert done.status_code == 200
    text = done.get_data(as_text=True)
    assert "Rule deleted: it had never awarded anything." in text and "Ten experiments" not in text
    refused = client.post(f"/app/admin/rules/{made['id']}/delete", data={"lt": world.callers["manager"]})
    assert refused.status_code == 403
