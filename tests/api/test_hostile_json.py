"""Hostile JSON the API must answer with its envelope (a 4xx and a message), never a server error (found by a fuzzing
review: each failed before its fix)."""
from __future__ import annotations

import json

import pytest

from tests.api.conftest import bearer, challenge_body, experiment_body
from tests.web.helpers import new_key

LONE_SURROGATE = "\\ud800"  # a JSON escape every JSON parser accepts; the string it gives has no UTF-8 form


@pytest.fixture
def server_errors_as_responses(app, monkeypatch):
    """What a real deployment does with an unexpected error: a 500 response, not a raised exception."""
    monkeypatch.setitem(app.config, "RAISE_UNEXPECTED", False)


def _send(client, method, url, token, body: dict, field: str):
    raw = json.dumps({**body, field: "__SURROGATE__"}).replace('"__SURROGATE__"', f'"{LONE_SURROGATE} text"')
    return client.open(url, method=method, data=raw, content_type="application/json", headers=bearer(token))


@pytest.mark.usefixtures("server_errors_as_responses")
@pytest.mark.parametrize("case", ["experiment.learned", "experiment.title", "experiment_patch.tried", "challenge.title",
                                  "challenge_put.description", "kudos.message", "kudos_revoke.reason",
                                  "award_revoke.reason", "peer_help.description", "team.name", "team_patch.name",
                                  "rule.name", "rule.dimension", "rule_preview.dimension", "webhook.description"])
def test_a_lone_surrogate_in_a_json_string_is_a_422_not_a_server_error(client, world, case):
    c = world.course_id
    learner, manager, admin = (world.callers[r] for r in ("learner", "manager", "admin"))
    rule = {"name": "Three tries", "condition": "experiment_count", "params": {"count": 3}, "points": 5,
            "dimension": "experimenting"}
    cases = {
        "experiment": ("POST", f"/api/v1/courses/{c}/experiments", learner, lambda: experiment_body(client, learner)),
        "experiment_patch": ("PATCH", f"/api/v1/courses/{c}/experiments/{world.experiment_id}", learner,
                             lambda: {"title": "Drafted a memo"}),
        "challenge": ("POST", f"/api/v1/courses/{c}/challenges", manager, challenge_body),
        "challenge_put": ("PUT", f"/api/v1/courses/{c}/challenges/{world.challenge_id}", manager, challenge_body),
        "kudos": ("POST", f"/api/v1/courses/{c}/kudos", manager,
                  lambda: {"receiver_id": world.learners["l3"], "message": "Thanks", "submission_key": new_key()}),
        "kudos_revoke": ("POST", f"/api/v1/courses/{c}/kudos/{world.kudos_id}/revoke", manager,
                         lambda: {"reason": "Wrong person"}),
        "award_revoke": ("POST", f"/api/v1/courses/{c}/awards/{world.award_id}/revoke", manager,
                         lambda: {"reason": "Wrong person"}),
        "peer_help": ("POST", f"/api/v1/courses/{c}/peer-help", learner,
                      lambda: {"other_user_id": world.learners["l3"], "direction": "i_helped",
                               "description": "Showed prompt chaining", "submission_key": new_key()}),
        "team": ("POST", f"/api/v1/courses/{c}/teams", manager, lambda: {"name": "Green"}),
        "team_patch": ("PATCH", f"/api/v1/courses/{c}/teams/{world.team_id}", manager, lambda: {"name": "Green"}),
        "rule": ("POST", "/api/v1/rules", admin, lambda: dict(rule)),
        "rule_preview": ("POST", "/api/v1/rules/preview", admin, lambda: dict(rule)),
        "webhook": ("POST", "/api/v1/webhooks", admin,
                    lambda: {"url": "https://hooks.example.org/x", "events": ["badge.earned"]}),
    }
    kind, field = case.split(".")
    method, url, token, body = cases[kind]
    response = _send(client, method, url, token, body(), field)
    assert response.status_code in (400, 422), (response.status_code, response.get_json())
    assert response.get_json()["error"]["code"] in ("bad_request", "invalid")
