"""Every /api/v1 endpoint x every caller: roles of the course, a user and a manager of another course,
anonymous, and API tokens with and without the endpoint's scope.

The endpoints come from the app's URL map: a new endpoint without a row in EXPECTED fails the suite."""
from __future__ import annotations

import pytest

from tests.api.conftest import bearer, challenge_body, experiment_body
from tests.web.helpers import new_key

CALLERS = ("anonymous", "learner", "observer", "manager", "admin", "other_course", "other_manager",
           "token_insights", "token_ledger", "token_awards")


def row(*, anonymous=401, learner, observer, manager, admin, other_course=404, other_manager=404,
        token_insights=403, token_ledger=403, token_awards=403) -> dict:
    return dict(anonymous=anonymous, learner=learner, observer=observer, manager=manager, admin=admin,
                other_course=other_course, other_manager=other_manager, token_insights=token_insights,
                token_ledger=token_ledger, token_awards=token_awards)


def everyone(status: int) -> dict:
    return dict.fromkeys(CALLERS, status)


PEOPLE = dict(learner=200, observer=200, manager=200, admin=200)  # launched people; tokens refused (403)
STAFF = dict(learner=403, observer=403, manager=200, admin=200)
ADMIN = dict(learner=403, observer=403, manager=403, admin=200, other_course=403, other_manager=403)
C = "/courses/<id:course_id>"
EXPECTED: dict[str, dict[str, int]] = {
    "GET /openapi.json": everyone(200),
    "GET /docs": everyone(200),
    "GET /docs/assets/<name>": everyone(200),
    "GET /me": {**everyone(200), "anonymous": 401},
    "GET /courses": {**everyone(200), "anonymous": 401},
    # the caller's own linked accounts: any launched person (of any course), never an API token
    "GET /me/linked-accounts": row(**PEOPLE, other_course=200, other_manager=200),
    "POST /me/linked-accounts/codes": row(learner=201, observer=201, manager=201, admin=201, other_course=201,
                                          other_manager=201),
    "POST /me/linked-accounts/link": row(learner=422, observer=422, manager=422, admin=422, other_course=422,
                                         other_manager=422),  # a code nobody showed
    "DELETE /me/linked-accounts/<id:user_id>": row(learner=404, observer=404, manager=404, admin=404,
                                                   other_course=404, other_manager=404),  # nobody is linked
    f"GET {C}/members": row(**STAFF, token_insights=200, token_awards=200),
    f"GET {C}/teams": row(**STAFF, token_insights=200, token_awards=200),
    f"POST {C}/teams": row(learner=403, observer=403, manager=201, admin=201),
    f"PATCH {C}/teams/<id:team_id>": row(**STAFF),
    f"DELETE {C}/teams/<id:team_id>": row(**STAFF),
    f"POST {C}/teams/<id:team_id>/members": row(**STAFF),
    f"DELETE {C}/teams/<id:team_id>/members/<id:user_id>": row(**STAFF),
    f"GET {C}/experiments": row(**PEOPLE),
    f"POST {C}/experiments": row(learner=201, observer=403, manager=201, admin=201),
    f"GET {C}/experiments/<id:experiment_id>": row(**PEOPLE),
    f"PATCH {C}/experiments/<id:experiment_id>": row(learner=200, observer=403, manager=403, admin=403),
    f"POST {C}/experiments/<id:experiment_id>/share": row(learner=200, observer=403, manager=403, admin=403),
    f"POST {C}/experiments/<id:experiment_id>/reactions": row(learner=422, observer=403, manager=201, admin=201),
    f"DELETE {C}/experiments/<id:experiment_id>/reactions/<string:kind>": row(learner=422, observer=403, manager=200,
                                                                              admin=200),
    f"POST {C}/experiments/<id:experiment_id>/reuses": row(learner=422, observer=403, manager=201, admin=201),
    f"GET {C}/peer-help": row(**PEOPLE),
    f"POST {C}/peer-help": row(learner=201, observer=403, manager=201, admin=201),
    f"POST {C}/peer-help/<id:help_id>/confirm": row(learner=200, observer=403, manager=404, admin=404),
    f"POST {C}/kudos": row(learner=403, observer=403, manager=201, admin=201),
    f"POST {C}/kudos/<id:kudos_id>/revoke": row(**STAFF),
    f"GET {C}/teams/<id:team_id>/progress": row(learner=200, observer=403, manager=200, admin=200,
                                                token_insights=200),
    f"GET {C}/challenges": row(**PEOPLE, token_insights=200),
    f"POST {C}/challenges": row(learner=403, observer=403, manager=201, admin=201),
    f"PUT {C}/challenges/<id:challenge_id>": row(**STAFF),
    f"GET {C}/leaderboards/individual": row(**PEOPLE),
    f"GET {C}/leaderboards/teams": row(**PEOPLE),
    f"GET {C}/badges": row(**PEOPLE, token_awards=200),
    f"GET {C}/awards": row(**PEOPLE, token_awards=200),
    f"POST {C}/awards": row(learner=403, observer=403, manager=201, admin=201, token_awards=201),
    f"POST {C}/awards/<id:award_id>/revoke": row(learner=403, observer=403, manager=200, admin=200,
                                                  token_awards=200),
    f"GET {C}/insights": row(**STAFF, token_insights=200),
    f"GET {C}/ledger/mine": row(**PEOPLE),
    "GET /rules": row(**ADMIN),
    "POST /rules": row(**{**ADMIN, "admin": 201}),
    "GET /rules/<id:rule_id>": row(**ADMIN),
    "PATCH /rules/<id:rule_id>": row(**ADMIN),
    "DELETE /rules/<id:rule_id>": row(**ADMIN),
    "POST /rules/preview": row(**ADMIN),
    "GET /rules/<id:rule_id>/recalculation": row(**ADMIN),
    "POST /rules/<id:rule_id>/recalculation": row(**ADMIN),
    "GET /webhooks": row(**ADMIN),
    "POST /webhooks": row(**{**ADMIN, "admin": 201}),
    "PATCH /webhooks/<id:webhook_id>": row(**ADMIN),
    "DELETE /webhooks/<id:webhook_id>": row(**{**ADMIN, "admin": 204}),
    "POST /webhooks/<id:webhook_id>/secret": row(**ADMIN),
    "GET /webhooks/deliveries": row(**ADMIN),
    "POST /webhooks/deliveries/resend": row(**ADMIN),
    "GET /ledger": row(learner=403, observer=403, manager=403, admin=200, other_course=403, other_manager=403,
                       token_ledger=200),
}
RECEIVER = {"manager": "l2", "admin": "l3", "token_awards": "l4"}


def api_endpoints(app) -> set[str]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                out.add(f"{method} {rule.rule[len('/api/v1'):]}")
    return out


def _collected_endpoints() -> list[str]:
    from plugin import create_app

    return sorted(api_endpoints(create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})))


def test_every_endpoint_has_a_row_and_every_row_an_endpoint(app):
    assert api_endpoints(app) == set(EXPECTED)


def _url(path: str, world) -> str:
    return "/api/v1" + (path.replace("<id:course_id>", str(world.course_id))
                        .replace("<id:experiment_id>", str(world.experiment_id))
                        .replace("<id:award_id>", str(world.award_id))
                        .replace("<id:help_id>", str(world.help_id))
                        .replace("<id:team_id>", str(world.team_id))
                        .replace("<id:rule_id>", str(world.rule_id))
                        .replace("<id:kudos_id>", str(world.kudos_id))
                        .replace("<id:webhook_id>", str(world.webhook_id))
                        .replace("<id:challenge_id>", str(world.challenge_id))
                        .replace("<id:user_id>", str(world.learners["l2"]))
                        .replace("<string:kind>", "helpful")
                        .replace("<name>", "swagger-ui.css"))


def _body(client, world, endpoint: str, caller: str):
    if endpoint == f"POST {C}/experiments":
        return experiment_body(client, world.callers["learner"])
    if endpoint == f"PATCH {C}/experiments/<id:experiment_id>":
        return {"title": f"Edited by {caller}"}
    if endpoint == "POST /me/linked-accounts/link":
        return {"code": "ZZZZ-ZZZZ"}
    if endpoint == f"POST {C}/experiments/<id:experiment_id>/share":
        return {"visibility": "course"}
    if endpoint == f"POST {C}/experiments/<id:experiment_id>/reactions":
        return {"kind": "helpful"}
    if endpoint == f"POST {C}/peer-help":
        return {"other_user_id": world.learners["l3"], "direction": "i_helped", "description": f"Helped by {caller}"}
    if endpoint == f"POST {C}/kudos":
        return {"receiver_id": world.learners["l3"], "message": "Thanks for the demo", "submission_key": new_key()}
    if endpoint in ("POST /rules", "POST /rules/preview"):
        return {"name": f"Ten experiments ({caller})", "condition": "experiment_count", "params": {"count": 10},
                "points": 20, "dimension": "experimenting"}
    if endpoint == "PATCH /rules/<id:rule_id>":
        return {"points": 12}
    if endpoint == f"POST {C}/awards":
        badges = client.get(f"/api/v1/courses/{world.course_id}/badges", headers=bearer(world.callers["admin"]))
        champion = next(b["id"] for b in badges.get_json() if b["slug"] == "champion")
        return {"user_id": world.learners[RECEIVER.get(caller, "l2")], "badge_id": champion, "comment": "Well done"}
    if endpoint in (f"POST {C}/awards/<id:award_id>/revoke", f"POST {C}/kudos/<id:kudos_id>/revoke"):
        return {"reason": f"Revoked by {caller}"}
    if endpoint == "POST /webhooks":
        return {"url": f"https://hooks.example.org/{caller}", "events": ["badge.earned", "challenge.completed"]}
    if endpoint == "PATCH /webhooks/<id:webhook_id>":
        return {"active": False}
    if endpoint == "POST /webhooks/deliveries/resend":
        return {}
    if endpoint in (f"POST {C}/teams", f"PATCH {C}/teams/<id:team_id>"):
        return {"name": f"Team of {caller}"}
    if endpoint == f"POST {C}/teams/<id:team_id>/members":
        return {"user_ids": [world.learners["l3"]]}
    if endpoint in (f"POST {C}/challenges", f"PUT {C}/challenges/<id:challenge_id>"):
        return challenge_body(title=f"Challenge by {caller}")
    return None


@pytest.mark.parametrize("endpoint", _collected_endpoints())
def test_endpoint_answers_each_caller_as_expected(client, world, endpoint):
    assert endpoint in EXPECTED, f"{endpoint} has no row in EXPECTED: say who may call it"
    method, path = endpoint.split(" ", 1)
    got = {}
    for caller in CALLERS:
        response = client.open(_url(path, world), method=method, headers=bearer(world.callers[caller]),
                               json=_body(client, world, endpoint, caller))
        got[caller] = response.status_code
        if response.status_code >= 400:
            body = response.get_json()
            assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), (caller, body)
    assert got == EXPECTED[endpoint]
