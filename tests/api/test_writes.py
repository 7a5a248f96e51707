"""The API's writes behave as their pages do, because they call the same services: a challenge's form checks,
team names unique per course and LMS teams untouched, kudos revoked only by their giver or an admin (points back
in the budget), and a rule's recalculation previewed then applied."""
from __future__ import annotations

from tests.api.conftest import bearer, challenge_body, experiment_body


def test_a_challenge_is_checked_as_the_form_checks_it_and_changed_whole(client, world):
    manager, url = bearer(world.callers["manager"]), f"/api/v1/courses/{world.course_id}/challenges"
    backwards = client.post(url, headers=manager, json=challenge_body(ends_at="2025-12-01T00:00:00"))
    assert backwards.status_code == 422
    assert backwards.get_json()["error"]["errors"] == {"ends_at": ["The end must come after the start."]}
    too_much = client.post(url, headers=manager, json=challenge_body(goal_kind="participation", goal_value=150))
    assert too_much.status_code == 422 and "goal_value" in too_much.get_json()["error"]["errors"]
    foreign_team = client.post(url, headers=manager, json=challenge_body(team=999_999))
    assert foreign_team.status_code == 422 and "team" in foreign_team.get_json()["error"]["errors"]

    changed = client.put(f"{url}/{world.challenge_id}", headers=manager,
                         json=challenge_body(title="Twelve tries", goal_value=12, team=world.team_id))
    assert changed.status_code == 200, changed.get_json()
    assert (changed.get_json()["title"], changed.get_json()["goal_value"], changed.get_json()["team_id"]) == (
        "Twelve tries", 12, world.team_id)
    cards = client.get(url, headers=bearer(world.callers["learner"])).get_json()
    assert [c["title"] for c in cards if c["id"] == world.challenge_id] == ["Twelve tries"]


def test_team_names_stay_unique_and_members_are_learners_of_the_course(client, world):
    manager, url = bearer(world.callers["manager"]), f"/api/v1/courses/{world.course_id}/teams"
    made = client.post(url, headers=manager, json={"name": "  Green   team "})
    assert made.status_code == 201 and made.get_json()["name"] == "Green team"
    clash = client.post(url, headers=manager, json={"name": "green TEAM"})
    assert clash.status_code == 409 and "name" in clash.get_json()["error"]["errors"]
    team = made.get_json()["id"]
    added = client.post(f"{url}/{team}/members", headers=manager,
                        json={"user_ids": [world.learners["l3"], world.learners["l4"]]})
    assert added.get_json() == {"added": sorted([world.learners["l3"], world.learners["l4"]])}
    again = client.post(f"{url}/{team}/members", headers=manager, json={"user_ids": [world.learners["l3"]]})
    assert again.get_json() == {"added": []}
    staff = client.get("/api/v1/me", headers=manager).get_json()["user_id"]
    refused = client.post(f"{url}/{team}/members", headers=manager, json={"user_ids": [staff]})
    assert refused.status_code == 422
    assert client.delete(f"{url}/{team}/members/{world.learners['l3']}", headers=manager).get_json() == {"removed": True}
    assert client.delete(f"{url}/{team}/members/{world.learners['l3']}", headers=manager).get_json() == {"removed": False}
    listed = {t["id"]: t for t in client.get(url, headers=manager).get_json()}
    assert listed[team]["members"] == 1
    assert client.delete(f"{url}/{team}", headers=manager).get_json() == {"deleted": True}
    assert client.delete(f"{url}/{team}", headers=manager).get_json() == {"deleted": False}
    assert team not in {t["id"] for t in client.get(url, headers=manager).get_json()}


def test_kudos_are_revoked_by_their_giver_or_an_admin_only(client, launch, world):
    url = f"/api/v1/courses/{world.course_id}/kudos/{world.kudos_id}/revoke"
    colleague = bearer(launch(role="instructor", sub="t2"))
    assert client.post(url, headers=colleague, json={"reason": "Not mine to take"}).status_code == 403
    revoked = client.post(url, headers=bearer(world.callers["manager"]), json={"reason": "Given to the wrong person"})
    assert revoked.status_code == 200
    assert revoked.get_json()["revoked_reason"] == "Given to the wrong person" and revoked.get_json()["revoked_at"]
    short = client.post(url, headers=bearer(world.callers["admin"]), json={"reason": "x"})
    assert short.status_code == 422 and "reason" in short.get_json()["error"]["errors"]


def test_a_changed_rule_is_previewed_then_applied_to_the_ledger(client, world):
    admin = bearer(world.callers["admin"])
    rules = client.get("/api/v1/rules", headers=admin).get_json()
    rule = next(r for r in rules if r["condition"] == "each_experiment")  # the learner logged one
    assert client.patch(f"/api/v1/rules/{rule['id']}", headers=admin, json={"points": rule["points"] + 7}).status_code == 200
    preview = client.get(f"/api/v1/rules/{rule['id']}/recalculation", headers=admin).get_json()
    assert preview["applied"] is False
    [change] = [c for c in preview["points"] if c["rule_id"] == rule["id"]]
    assert change["desired"] == change["current"] + 7
    applied = client.post(f"/api/v1/rules/{rule['id']}/recalculation", headers=admin).get_json()
    assert applied["applied"] is True and applied["points"] == preview["points"]
    after = client.get(f"/api/v1/rules/{rule['id']}/recalculation", headers=admin).get_json()
    assert after == {"applied": False, "points": [], "new_badges": [], "lost_badges": []}


def test_a_rule_naming_an_id_out_of_range_is_refused_and_logging_goes_on(client, world):
    """A stored rule is evaluated on every experiment the organisation logs: a category or tool id beyond the
    database's INTEGER would have made each of those a server error."""
    admin, learner = bearer(world.callers["admin"]), world.callers["learner"]
    before = len(client.get("/api/v1/rules", headers=admin).get_json())
    for params in ({"count": 1, "category_id": 99999999999999999999}, {"count": 1, "tool_id": 2**31}):
        refused = client.post("/api/v1/rules", headers=admin, json={
            "name": "Big", "condition": "experiment_count", "params": params, "points": 5, "active": True})
        assert refused.status_code == 422, refused.get_json()
        [field] = [f"params.{name}" for name in params if name != "count"]
        assert refused.get_json()["error"]["errors"] == {field: ["A whole number from 1 to 2147483647."]}
    assert len(client.get("/api/v1/rules", headers=admin).get_json()) == before
    logged = client.post(f"/api/v1/courses/{world.course_id}/experiments", headers=bearer(learner),
                         json=experiment_body(client, learner))
    assert logged.status_code == 201


def test_an_experiment_title_or_text_of_spaces_only_is_refused_on_create_and_edit(client, world):
    """The API stored "   " as an empty title (the length was checked before the service stripped it)."""
    learner = bearer(world.callers["learner"])
    url = f"/api/v1/courses/{world.course_id}/experiments"
    created = client.post(url, headers=learner, json=experiment_body(client, world.callers["learner"], title="    "))
    assert created.status_code == 422 and "title" in created.get_json()["error"]["errors"], created.get_json()
    for field in ("title", "tried"):
        edited = client.patch(f"{url}/{world.experiment_id}", headers=learner, json={field: "  \n  "})
        assert edited.status_code == 422 and field in edited.get_json()["error"]["errors"], edited.get_json()
    kept = client.get(f"{url}/{world.experiment_id}", headers=learner).get_json()
    assert kept["title"].strip() and kept["tried"].strip()


def test_an_observer_cannot_edit_or_share_the_entries_they_logged_as_a_learner(client, launch, world):
    """Observers read only: someone whose course role became observer keeps their entries but changes none."""
    url = f"/api/v1/courses/{world.course_id}/experiments"
    as_learner = launch(sub="changed-role")
    created = client.post(url, headers=bearer(as_learner),
                          json=experiment_body(client, as_learner, visibility="private", title="Kept as it was"))
    assert created.status_code == 201
    experiment = created.get_json()["id"]
    observer = bearer(launch(role="mentor", sub="changed-role"))
    assert client.get("/api/v1/me", headers=observer).get_json()["role"] == "observer"
    assert client.patch(f"{url}/{experiment}", headers=observer, json={"title": "Changed"}).status_code == 403
    assert client.post(f"{url}/{experiment}/share", headers=observer, json={"visibility": "course"}).status_code == 403
    kept = client.get(f"{url}/{experiment}", headers=observer).get_json()
    assert (kept["title"], kept["visibility"]) == ("Kept as it was", "private")
