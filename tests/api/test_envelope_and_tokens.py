"""The error envelope on every kind of failure, API token lifecycle and rate limit, ETags, cursor pages."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import bearer, experiment_body, issue_token


def _error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_anonymous_calls_get_401_in_the_envelope_with_a_bearer_challenge(client):
    response = client.get("/api/v1/courses/1/experiments")
    assert response.status_code == 401
    assert _error(response)["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_path_and_wrong_method_use_the_envelope(client, launch):
    token = launch()
    assert _error(client.get("/api/v1/nowhere", headers=bearer(token)))["code"] == "not_found"
    response = client.delete("/api/v1/me", headers=bearer(token))
    assert response.status_code == 405 and _error(response)["code"] == "method_not_allowed"


def test_invalid_input_is_422_with_field_errors(client, world):
    response = client.post(f"/api/v1/courses/{world.course_id}/experiments", json={"title": "x"},
                           headers=bearer(world.callers["learner"]))
    error = _error(response)
    assert response.status_code == 422 and error["code"] == "invalid"
    assert "title" in error["errors"] and "outcome" in error["errors"]
    bad_cursor = client.get(f"/api/v1/courses/{world.course_id}/experiments", query_string={"cursor": "zzz"},
                            headers=bearer(world.callers["learner"]))
    assert bad_cursor.status_code == 422 and "cursor" in _error(bad_cursor)["errors"]


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000])
def test_json_nested_beyond_the_parser_is_a_400_in_the_envelope(client, world, body):
    url = f"/api/v1/courses/{world.course_id}/experiments"
    learner = bearer(world.callers["learner"])
    before = len(client.get(url, headers=learner).get_json()["items"])
    response = client.post(url, data=body, headers={**learner, "Content-Type": "application/json"})
    error = _error(response)
    assert response.status_code == 400 and error["code"] == "invalid"
    assert error["errors"] == {"json": ["Invalid JSON body."]}
    assert len(client.get(url, headers=learner).get_json()["items"]) == before
    patched = client.patch(f"/api/v1/rules/{world.rule_id}", data=body,
                           headers={**bearer(world.callers["admin"]), "Content-Type": "application/json"})
    assert patched.status_code == 400 and _error(patched)["code"] == "invalid"


def test_every_api_blueprint_parses_with_tinkers_parser(app):
    import flask_smorest

    from plugin.api.spec import Blueprint

    smorest = [bp for bp in app.blueprints.values() if isinstance(bp, flask_smorest.Blueprint)]
    assert smorest and all(isinstance(bp, Blueprint) for bp in smorest), "use plugin.api.spec.Blueprint"


def test_nul_characters_are_refused_not_stored(client, world):
    body = experiment_body(client, world.callers["learner"], title="bad\x00title")
    response = client.post(f"/api/v1/courses/{world.course_id}/experiments", json=body,
                           headers=bearer(world.callers["learner"]))
    assert response.status_code == 422 and "title" in _error(response)["errors"]


def test_a_nul_in_a_help_submission_key_is_a_field_error_not_a_500(client, world):
    """PostgreSQL refuses NUL in text: the retry key of recorded help is refused as the other texts are."""
    response = client.post(f"/api/v1/courses/{world.course_id}/peer-help", headers=bearer(world.callers["learner"]),
                           json={"other_user_id": world.learners["l3"], "direction": "helped_me",
                                 "description": "Showed me how to check sources", "submission_key": "retry-key\x00"})
    assert response.status_code == 422 and "submission_key" in _error(response)["errors"], response.get_json()
    mine = client.get(f"/api/v1/courses/{world.course_id}/peer-help", headers=bearer(world.callers["learner"]))
    assert all(h["helper_id"] != world.learners["l3"] for h in mine.get_json())


@pytest.mark.parametrize("tool", ["\u00b2", "99999999999999999999", "3000000000", "0"])
def test_a_tool_that_is_no_id_is_a_field_error(client, world, tool):
    body = experiment_body(client, world.callers["learner"], ai_tool=tool, title="Tool named oddly")
    url = f"/api/v1/courses/{world.course_id}/experiments"
    response = client.post(url, json=body, headers=bearer(world.callers["learner"]))
    error = _error(response)
    assert response.status_code == 422 and error["code"] == "invalid"
    assert error["errors"] == {"ai_tool": ["Choose a tool from the list, or Other."]}
    listed = client.get(url, headers=bearer(world.callers["learner"])).get_json()["items"]
    assert "Tool named oddly" not in [item["title"] for item in listed]


def test_forged_and_expired_launch_tokens_are_401(client, app, launch):
    token = launch()
    assert client.get("/api/v1/me", headers=bearer("forged.value")).status_code == 401
    app.config["LAUNCH_TOKEN_TTL"] = -1
    try:
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    finally:
        app.config["LAUNCH_TOKEN_TTL"] = 3600


def test_launch_token_as_bearer_is_the_same_actor_as_the_pages(client, launch):
    token = launch(role="instructor", sub="teacher")
    me = client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert me["kind"] == "launch" and me["role"] == "manager"
    assert client.get("/app/manage/", query_string={"lt": token}).status_code == 200


def test_token_is_stored_hashed_listed_in_audit_and_revocable(client, app, world):
    from sqlalchemy import select

    from plugin.audit.models import AuditEvent
    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.tokens import service as tokens
    from plugin.tokens.models import ApiToken

    secret = issue_token(app, world.organisation_id, ["insights:read"], name="BI export")
    assert client.get("/api/v1/me", headers=bearer(secret)).get_json()["scopes"] == ["insights:read"]
    with app.app_context():
        row = db.session.scalar(select(ApiToken).where(ApiToken.name == "BI export"))
        assert secret not in (row.token_hash, row.prefix) and secret.startswith(row.prefix)
        assert row.last_used_at is not None
        tokens.revoke(world.organisation_id, row.id, utcnow())
        db.session.commit()
        actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.target_type == "api_token",
                                                                          AuditEvent.target_id == row.id)))
        assert actions == ["api_token.issued", "api_token.revoked"]
    response = client.get("/api/v1/me", headers=bearer(secret))
    assert response.status_code == 401 and _error(response)["code"] == "unauthenticated"


def test_expired_and_unknown_tokens_are_401(client, app, world):
    from sqlalchemy import update

    from plugin.core.clock import utcnow
    from plugin.extensions import db
    from plugin.tokens.models import ApiToken

    secret = issue_token(app, world.organisation_id, ["ledger:read"], name="old")
    with app.app_context():
        db.session.execute(update(ApiToken).where(ApiToken.name == "old")
                           .values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401
    assert client.get("/api/v1/me", headers=bearer(secret[:-2] + "xx")).status_code == 401
    assert client.get("/api/v1/me", headers=bearer("tkn_")).status_code == 401


def test_a_token_never_reaches_another_organisation(client, app, launch, platform, world):
    from tests.support.platform import FakePlatform

    other = FakePlatform(issuer="https://other-lms.example.org", client_id="client-other")
    try:
        assert client.application.test_cli_runner().invoke(args=other.register_args(org="Other Org")).exit_code == 0
        response, _ = other.launch(client, sub="z", context_id="zz")
        from tests.support.platform import token_from

        foreign = client.get("/api/v1/me", headers=bearer(token_from(response))).get_json()
    finally:
        other.close()
    assert foreign["organisation_id"] != world.organisation_id
    token = world.callers["token_insights"]
    assert client.get(f"/api/v1/courses/{foreign['course_id']}/insights", headers=bearer(token)).status_code == 404
    courses = client.get("/api/v1/courses", headers=bearer(token)).get_json()
    assert foreign["course_id"] not in {c["id"] for c in courses}


def test_rate_limit_per_token_answers_429_with_retry_after(client, app, world, monkeypatch):
    token = world.callers["token_ledger"]
    other = world.callers["token_insights"]
    from plugin.core.clock import utcnow

    moment = utcnow().replace(second=30)  # one fixed minute: the window cannot roll over mid-test
    monkeypatch.setattr("plugin.api.auth.utcnow", lambda: moment)
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", 3)
    statuses = [client.get("/api/v1/me", headers=bearer(token)).status_code for _ in range(5)]
    limited = client.get("/api/v1/me", headers=bearer(token))
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200  # each token counts apart
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    assert _error(limited)["code"] == "rate_limited"
    assert limited.headers["Retry-After"] == "30"


def test_rate_counter_lives_in_the_database(app, world):
    from sqlalchemy import func, select

    from plugin.extensions import db
    from plugin.tokens.models import ApiRateWindow

    if app.config.get("REDIS_URL"):
        pytest.skip("with a shared cache the counter lives in Redis: tests/api/test_rate_limit_redis.py")
    client = app.test_client()  # a second "instance": nothing shared in memory but the database
    client.get("/api/v1/me", headers=bearer(world.callers["token_awards"]))
    with app.app_context():
        assert db.session.scalar(select(func.sum(ApiRateWindow.count))) >= 1


def test_etag_gives_304_when_nothing_changed(client, world):
    url, headers = f"/api/v1/courses/{world.course_id}/experiments", bearer(world.callers["learner"])
    first = client.get(url, headers=headers)
    etag = first.headers["ETag"]
    again = client.get(url, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    client.patch(f"{url}/{world.experiment_id}", json={"title": "A better title"}, headers=headers)
    assert client.get(url, headers={**headers, "If-None-Match": etag}).status_code == 200


def test_cursor_pages_walk_the_library_without_repeats(client, world):
    headers = bearer(world.callers["learner"])
    url = f"/api/v1/courses/{world.course_id}/experiments"
    for n in range(4):
        assert client.post(url, json=experiment_body(client, world.callers["learner"], title=f"Try number {n}",
                                                     tried=f"Different attempt {n} " * (n + 1)),
                           headers=headers).status_code == 201
    seen, cursor = [], None
    while True:
        page = client.get(url, query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=headers).get_json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)


def test_create_is_idempotent_by_submission_key(client, world):
    headers = bearer(world.callers["learner"])
    body = experiment_body(client, world.callers["learner"], title="Once only")
    url = f"/api/v1/courses/{world.course_id}/experiments"
    first, second = client.post(url, json=body, headers=headers), client.post(url, json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.get_json()["id"] == second.get_json()["id"]


def test_cli_issues_lists_and_revokes(cli, platform, world):
    issued = cli("api", "token", "issue", "--org", "Test Org", "--scope", "insights:read", "--days", "7",
                 "--name", "cli")
    assert issued.exit_code == 0, issued.output
    secret = issued.stdout.strip().splitlines()[0]
    assert secret.startswith("tkn_")
    listed = cli("api", "token", "list", "--org", "Test Org")
    line = next(x for x in listed.output.splitlines() if "\tcli\t" in x)
    assert "active" in line and secret not in listed.output
    assert cli("api", "token", "revoke", "--org", "Test Org", line.split("\t")[0]).exit_code == 0
    assert "revoked" in next(x for x in cli("api", "token", "list", "--org", "Test Org").output.splitlines()
                             if "\tcli\t" in x)
    assert cli("api", "token", "issue", "--org", "Nobody", "--scope", "insights:read").exit_code != 0


def test_author_shares_a_private_experiment_and_the_course_then_sees_it(client, world, launch):
    author = world.callers["learner"]
    url = f"/api/v1/courses/{world.course_id}/experiments"
    private = client.post(url, json=experiment_body(client, author, title="Kept to myself at first",
                                                    visibility="private"), headers=bearer(author)).get_json()
    peer = launch(sub="l2")
    assert client.get(f"{url}/{private['id']}", headers=bearer(peer)).status_code == 404
    shared = client.post(f"{url}/{private['id']}/share", json={"visibility": "course"}, headers=bearer(author))
    assert shared.status_code == 200 and shared.get_json()["visibility"] == "course"
    assert client.get(f"{url}/{private['id']}", headers=bearer(peer)).status_code == 200


def test_an_entry_with_possibly_sensitive_data_cannot_be_shared(client, world):
    author = world.callers["learner"]
    url = f"/api/v1/courses/{world.course_id}/experiments"
    unsure = client.post(url, json=experiment_body(client, author, title="Pasted a client list?",
                                                   sensitive_data="unsure"), headers=bearer(author)).get_json()
    assert unsure["visibility"] == "private"
    refused = client.post(f"{url}/{unsure['id']}/share", json={"visibility": "course"}, headers=bearer(author))
    assert refused.status_code == 422 and "visibility" in refused.get_json()["error"]["errors"]


def test_sharing_a_failure_later_earns_fail_forward_once(client, world, launch):
    author = launch(sub="late-sharer")
    url = f"/api/v1/courses/{world.course_id}/experiments"
    private = client.post(url, json=experiment_body(client, author, visibility="private"),
                          headers=bearer(author)).get_json()  # failed, with what was learned

    def fail_forward() -> list:
        mine = client.get(f"/api/v1/courses/{world.course_id}/ledger/mine", headers=bearer(author)).get_json()
        return [e for e in mine if e["badge"] == "Fail Forward" or e["why"].startswith("Fail Forward")]

    assert fail_forward() == []
    for visibility in ("team", "private", "course"):
        assert client.post(f"{url}/{private['id']}/share", json={"visibility": visibility},
                           headers=bearer(author)).status_code == 200
    earned = fail_forward()
    assert len([e for e in earned if e["badge"]]) == 1 and len([e for e in earned if e["points"]]) == 1


def test_help_is_confirmed_once_then_409(client, world):
    url = f"/api/v1/courses/{world.course_id}/peer-help/{world.help_id}/confirm"
    learner = bearer(world.callers["learner"])
    first = client.post(url, headers=learner)
    assert first.status_code == 200 and first.get_json()["status"] == "confirmed"
    again = client.post(url, headers=learner)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"


def test_reacting_twice_counts_once(client, world):
    url = f"/api/v1/courses/{world.course_id}/experiments/{world.experiment_id}/reactions"
    manager = bearer(world.callers["manager"])
    first = client.post(url, json={"kind": "helpful"}, headers=manager)
    second = client.post(url, json={"kind": "helpful"}, headers=manager)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["created"] is False and second.get_json()["counts"]["helpful"] == 1


def test_a_reaction_is_taken_back_with_delete(client, world):
    url = f"/api/v1/courses/{world.course_id}/experiments/{world.experiment_id}/reactions"
    manager = bearer(world.callers["manager"])
    client.post(url, json={"kind": "helpful"}, headers=manager)
    taken = client.delete(f"{url}/helpful", headers=manager)
    assert taken.status_code == 200
    assert taken.get_json()["withdrawn"] is True and taken.get_json()["counts"].get("helpful", 0) == 0
    assert taken.get_json()["mine"] == []
    again = client.delete(f"{url}/helpful", headers=manager)
    assert again.status_code == 200 and again.get_json()["withdrawn"] is False
    unknown = client.delete(f"{url}/love", headers=manager)
    assert unknown.status_code == 422 and unknown.get_json()["error"]["errors"]["kind"]
    given = client.post(url, json={"kind": "helpful"}, headers=manager)
    assert given.status_code == 201 and given.get_json()["counts"]["helpful"] == 1


def test_minutes_saved_may_be_left_out_or_null_meaning_not_estimated(client, world):
    url = f"/api/v1/courses/{world.course_id}/experiments"
    learner = bearer(world.callers["learner"])
    left_out = experiment_body(client, world.callers["learner"], title="Left out")
    left_out.pop("minutes_saved")
    for body in (left_out, experiment_body(client, world.callers["learner"], title="Null", minutes_saved=None),
                 experiment_body(client, world.callers["learner"], title="Zero", minutes_saved=0)):
        created = client.post(url, json=body, headers=learner)
        assert created.status_code == 201, created.get_json()
        shown = client.get(f"{url}/{created.get_json()['id']}", headers=learner).get_json()
        assert shown["minutes_saved"] == (0 if body["title"] == "Zero" else None)


def test_json_types_are_strict_in_bodies(client, world):
    body = experiment_body(client, world.callers["learner"], anonymous="on", minutes_saved="5")
    response = client.post(f"/api/v1/courses/{world.course_id}/experiments", json=body,
                           headers=bearer(world.callers["learner"]))
    assert response.status_code == 422
    assert {"anonymous", "minutes_saved"} <= set(response.get_json()["error"]["errors"])


def test_an_empty_patch_is_refused(client, world):
    url = f"/api/v1/courses/{world.course_id}/experiments/{world.experiment_id}"
    for body in (None, {}):
        response = client.patch(url, json=body, headers=bearer(world.callers["learner"]))
        assert response.status_code == 422, body


def test_admin_creates_a_rule_that_recognises_at_once_and_previews_a_change(client, world):
    admin = bearer(world.callers["admin"])
    rule = {"name": "First logged", "condition": "experiment_count", "params": {"count": 1}, "points": 3,
            "dimension": "experimenting"}
    preview = client.post("/api/v1/rules/preview", json=rule, headers=admin)
    assert preview.status_code == 200
    assert world.course_id in {q["course_id"] for q in preview.get_json()}
    created = client.post("/api/v1/rules", json=rule, headers=admin)
    assert created.status_code == 201 and created.get_json()["recognised"] >= 1
    changed = client.patch(f"/api/v1/rules/{created.get_json()['id']}", json={"points": 4}, headers=admin)
    assert changed.status_code == 200 and changed.get_json()["version"] == 2
    bad = client.post("/api/v1/rules", json={**rule, "params": {"count": -1}}, headers=admin)
    assert bad.status_code == 422 and "params.count" in bad.get_json()["error"]["errors"]


def test_boards_progress_and_insights_answer_304_until_a_new_award_changes_their_weak_etag(client, world):
    manager, token = bearer(world.callers["manager"]), bearer(world.callers["token_insights"])
    course = f"/api/v1/courses/{world.course_id}"
    urls = [(f"{course}/leaderboards/individual", manager), (f"{course}/leaderboards/teams", manager),
            (f"{course}/leaderboards/individual?scope=organisation", manager),
            (f"{course}/teams/{world.team_id}/progress", token), (f"{course}/insights?kind=month", token)]
    tags = {}
    for url, headers in urls:
        first = client.get(url, headers=headers)
        assert first.status_code == 200, (url, first.get_json())
        tags[url] = first.headers["ETag"]
        assert tags[url].startswith('W/"'), tags[url]
        again = client.get(url, headers={**headers, "If-None-Match": tags[url]})
        assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", tags[url]), url
    # Another caller, or other query parameters: another tag.
    other = client.get(f"{course}/leaderboards/individual", headers={**bearer(world.callers["admin"]),
                                                                    "If-None-Match": tags[urls[0][0]]})
    assert other.status_code == 200 and other.headers["ETag"] != tags[urls[0][0]]

    badges = client.get(f"{course}/badges", headers=manager).get_json()
    awarded = client.post(f"{course}/awards", headers=manager, json={
        "user_id": world.learners["l2"], "badge_id": next(b["id"] for b in badges if b["slug"] == "champion"),
        "comment": "Ran the clinic"})
    assert awarded.status_code == 201, awarded.get_json()
    for url, headers in urls:
        changed = client.get(url, headers={**headers, "If-None-Match": tags[url]})
        assert changed.status_code == 200 and changed.headers["ETag"] != tags[url], url


def test_an_edit_that_adds_no_row_still_changes_the_weak_etags(client, world):
    """An experiment's later edit writes no ledger row, award or audit event: the data version still moves,
    so no stale board, progress or insights table is confirmed with a 304."""
    manager, learner = bearer(world.callers["manager"]), bearer(world.callers["learner"])
    course = f"/api/v1/courses/{world.course_id}"
    urls = [f"{course}/leaderboards/individual", f"{course}/teams/{world.team_id}/progress", f"{course}/insights"]
    tags = {url: client.get(url, headers=manager).headers["ETag"] for url in urls}
    assert all(client.get(url, headers={**manager, "If-None-Match": tags[url]}).status_code == 304 for url in urls)
    edited = client.patch(f"{course}/experiments/{world.experiment_id}", headers=learner, json={"title": "Renamed"})
    assert edited.status_code == 200
    for url in urls:
        again = client.get(url, headers={**manager, "If-None-Match": tags[url]})
        assert again.status_code == 200 and again.headers["ETag"] != tags[url], url


def test_a_time_zone_change_is_never_confirmed_with_the_old_zones_copy(app, client, world):
    """The boards reuse the zone their version read. A zone change committed by another instance, whose change
    row a later one overtook (here: none at all), still ends the 304s: the client gets the board in the new zone."""
    from sqlalchemy import text

    from plugin.extensions import db

    manager = bearer(world.callers["manager"])
    url = f"/api/v1/courses/{world.course_id}/leaderboards/individual?period=week"
    first = client.get(url, headers=manager)
    assert client.get(url, headers={**manager, "If-None-Match": first.headers["ETag"]}).status_code == 304
    with app.app_context(), db.engine.begin() as other:  # past the session hook that adds the change row
        # (London: mostly the same date as UTC, so the date alone would not end the 304s)
        moved = other.execute(text("UPDATE organisation_settings SET time_zone = 'Europe/London' "
                                   "WHERE organisation_id = :organisation"), {"organisation": world.organisation_id})
        assert moved.rowcount == 1
    again = client.get(url, headers={**manager, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200 and again.headers["ETag"] != first.headers["ETag"]


def test_a_weak_etag_is_not_confirmed_for_a_client_asking_in_another_language(client, world):
    """The insights label, table texts and progress texts follow Accept-Language: a copy tagged in English is
    not confirmed with a 304 to a client that now asks in Turkish (it would keep showing English)."""
    token = bearer(world.callers["token_insights"])
    url = f"/api/v1/courses/{world.course_id}/insights?kind=quarter&key=2026-Q4"
    english = client.get(url, headers={**token, "Accept-Language": "en"})
    assert english.status_code == 200 and english.get_json()["label"] == "Q4 2026"
    turkish = client.get(url, headers={**token, "Accept-Language": "tr", "If-None-Match": english.headers["ETag"]})
    assert turkish.status_code == 200 and turkish.get_json()["label"] == "2026 Ç4"
    assert turkish.headers["ETag"] != english.headers["ETag"]
    again = client.get(url, headers={**token, "Accept-Language": "tr", "If-None-Match": turkish.headers["ETag"]})
    assert again.status_code == 304


def test_confidence_ratings_are_the_authors_alone(client, world):
    """The API gave every reader a colleague's confidence before and after (anonymous posts included), where the form
    promises they are "only ever reported as a group average": the author reads theirs, anyone else reads null."""
    body = experiment_body(client, world.callers["learner"], anonymous=True, confidence_before=1, confidence_after=2)
    created = client.post(f"/api/v1/courses/{world.course_id}/experiments", json=body,
                          headers=bearer(world.callers["learner"]))
    assert created.status_code == 201, created.get_json()
    url = f"/api/v1/courses/{world.course_id}/experiments/{created.get_json()['id']}"
    mine = client.get(url, headers=bearer(world.callers["learner"])).get_json()
    assert (mine["confidence_before"], mine["confidence_after"]) == (1, 2)
    for reader in ("manager", "admin"):
        seen = client.get(url, headers=bearer(world.callers[reader])).get_json()
        assert (seen["confidence_before"], seen["confidence_after"]) == (None, None), reader
    listed = client.get(f"/api/v1/courses/{world.course_id}/experiments",
                        headers=bearer(world.callers["manager"])).get_json()["items"]
    assert all(item["confidence_before"] is None and item["confidence_after"] is None for item in listed)


def test_staff_get_a_small_teams_progress_withheld_until_the_organisations_group_size_allows_it(client, world):
    """Blue is two of the course's five learners: below the minimum group size (5) a manager's or an insights token's
    answer says withheld with zero figures; once an admin allows groups of two, the figures come, and the copy
    taken before is not confirmed with a 304."""
    url = f"/api/v1/courses/{world.course_id}/teams/{world.team_id}/progress"
    for caller in ("manager", "token_insights"):
        small = client.get(url, headers=bearer(world.callers[caller]))
        body = small.get_json()
        assert small.status_code == 200 and body["withheld"] is True and body["members"] == 2, (caller, body)
        assert body["experiments"]["all_time"] == 0 and body["experimenters_month"] == 0
    tag = small.headers["ETag"]
    saved = client.post("/app/insights/settings", data={"lt": world.callers["admin"], "min_group_size": "2"})
    assert saved.status_code == 303
    shown = client.get(url, headers={**bearer(world.callers["token_insights"]), "If-None-Match": tag})
    body = shown.get_json()
    assert shown.status_code == 200 and body["withheld"] is False and body["members"] == 2, body
    assert body["experiments"]["all_time"] == 1 and body["experimenters_month"] == 1  # the learner's entry
    learner = client.get(url, headers=bearer(world.callers["learner"])).get_json()
    assert learner["withheld"] is True  # learners: from three members, whatever the organisation's size
