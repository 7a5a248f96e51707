"""A course with people in every role, a second course, and API tokens: the callers the API tests use."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.web.helpers import experiment_form, new_key

SCOPES = ("insights:read", "ledger:read", "awards:write")


def bearer(token: str | None) -> dict:
    return {"Authorization": f"Bearer {token}"} if token else {}


def experiment_body(client, launch_token: str, **overrides) -> dict:
    """A valid ExperimentIn body, with tool and category ids read from the logging form."""
    data = experiment_form(client, launch_token)
    data.pop("lt")
    data.update({"minutes_saved": 0, "submission_key": new_key(), "task_category": int(data["task_category"])},
                **overrides)
    return data


def issue_token(app, organisation_id: int, scopes, days: int = 30, name: str = "test") -> str:
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.tokens import service as tokens

    with app.app_context():
        issued = tokens.issue(organisation_id, name, list(scopes), days, utcnow())
        db.session.commit()
        return issued.secret


@dataclass
class World:
    course_id: int
    other_course_id: int
    organisation_id: int
    callers: dict[str, str | None]  # caller name -> bearer credential
    experiment_id: int
    award_id: int
    help_id: int  # pending: recorded by l2 as help given to the learner
    team_id: int  # "Blue": the learner and l2
    rule_id: int  # the default pack's first rule
    learners: dict[str, int] = field(default_factory=dict)  # sub -> user id
    kudos_id: int = 0  # the manager's kudos to l3
    challenge_id: int = 0  # a course-wide count challenge the manager made
    webhook_id: int = 0  # the organisation's endpoint (badge.earned), made by the admin


def challenge_body(**overrides) -> dict:
    return {"title": "Ten tries this term", "goal_kind": "count", "goal_value": 10,
            "starts_at": "2026-01-01T00:00:00", "ends_at": "2027-01-01T00:00:00", **overrides}


@pytest.fixture
def world(app, client, launch) -> World:
    callers = {"anonymous": None, "learner": launch(sub="l1"), "observer": launch(role="mentor", sub="o1"),
               "manager": launch(role="instructor", sub="t1"), "admin": launch(role="admin", sub="boss"),
               "other_course": launch(sub="x1", context_id="course-2"),
               "other_manager": launch(role="instructor", sub="x2", context_id="course-2")}
    learners, tokens = {}, {}
    for sub in ("l2", "l3", "l4", "l5"):
        tokens[sub] = launch(sub=sub)
        learners[sub] = client.get("/api/v1/me", headers=bearer(tokens[sub])).get_json()["user_id"]
    me = client.get("/api/v1/me", headers=bearer(callers["learner"])).get_json()
    other = client.get("/api/v1/me", headers=bearer(callers["other_course"])).get_json()
    course_id, org = me["course_id"], me["organisation_id"]
    for scope in SCOPES:
        callers["token_" + scope.split(":")[0]] = issue_token(app, org, [scope])
    created = client.post(f"/api/v1/courses/{course_id}/experiments", json=experiment_body(client, callers["learner"]),
                          headers=bearer(callers["learner"]))
    assert created.status_code == 201, created.get_json()
    champion = next(b for b in client.get(f"/api/v1/courses/{course_id}/badges",
                                          headers=bearer(callers["manager"])).get_json() if b["slug"] == "champion")
    award = client.post(f"/api/v1/courses/{course_id}/awards", headers=bearer(callers["manager"]),
                        json={"user_id": learners["l5"], "badge_id": champion["id"], "comment": "Led the pilot"})
    assert award.status_code == 201, award.get_json()
    helped = client.post(f"/api/v1/courses/{course_id}/peer-help", headers=bearer(tokens["l2"]),
                         json={"other_user_id": me["user_id"], "direction": "i_helped",
                               "description": "Showed how to ground answers in our policy"})
    assert helped.status_code == 201, helped.get_json()
    kudos = client.post(f"/api/v1/courses/{course_id}/kudos", headers=bearer(callers["manager"]),
                        json={"receiver_id": learners["l3"], "message": "Thanks for the demo", "submission_key": new_key()})
    assert kudos.status_code == 201, kudos.get_json()
    challenge = client.post(f"/api/v1/courses/{course_id}/challenges", headers=bearer(callers["manager"]),
                            json=challenge_body())
    assert challenge.status_code == 201, challenge.get_json()
    webhook = client.post("/api/v1/webhooks", headers=bearer(callers["admin"]),
                          json={"url": "https://hooks.example.org/tinker", "events": ["badge.earned"]})
    assert webhook.status_code == 201, webhook.get_json()
    return World(course_id, other["course_id"], org, callers, created.get_json()["id"], award.get_json()["id"],
                 helped.get_json()["id"], make_team(app, course_id, "Blue", [me["user_id"], learners["l2"]]),
                 client.get("/api/v1/rules", headers=bearer(callers["admin"])).get_json()[0]["id"], learners,
                 kudos.get_json()["id"], challenge.get_json()["id"], webhook.get_json()["id"])


def make_team(app, course_id: int, name: str, user_ids: list[int]) -> int:
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.leaderboards import reconcile
    from plugin.teams import service as teams

    with app.app_context():
        team = teams.ensure_team(course_id, name, utcnow())
        for user_id in user_ids:
            teams.add_member(team, user_id)
        reconcile.team_members_changed(team.id)  # the team's figures, as a roster sync's or a manager's change
        db.session.commit()
        return team.id
