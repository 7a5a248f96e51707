"""Grade sync over AGS against a fake Moodle-shaped platform on real HTTP: opt-in, line item, scores,
Moodle's 400/409 answers, retries with backoff, staff never pushed, one token for several scores."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.core.clock import utcnow
from plugin.extensions import db
from plugin.lti import keys, service_token
from plugin.lti.ags import with_suffix
from plugin.outbox.models import DONE, FAILED, PENDING, GradeSync, OutboxItem
from plugin.outbox.service import process_due
from plugin.tenancy.models import User
from tests.support.ags import FakeAgs
from tests.support.platform import FakePlatform, token_from
from tests.support.refusals import assert_refused_privately
from tests.web.helpers import log_experiment, text, visible

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"


@pytest.fixture
def ags(app):
    def tool_jwks():
        with app.app_context():
            return keys.public_jwks()

    fake = FakeAgs("client-123", tool_jwks)
    service_token.forget()
    yield fake
    fake.close()
    service_token.forget()


@pytest.fixture
def lms(cli, ags):
    fake = FakePlatform()
    result = cli(*fake.register_args(token_url=ags.token_url))
    assert result.exit_code == 0, result.output
    yield fake
    fake.close()


@pytest.fixture
def enter(client, lms, ags):
    def do(role: str = "learner", sub: str = "learner-1", with_ags: bool = True) -> str:
        response, _ = lms.launch(client, role=role, sub=sub, overrides={AGS: ags.claim()} if with_ags else None)
        return token_from(response)

    return do


def run(app, now=None):
    # time is simulated by `now`: no time passes during a batch (a retry is due exactly a backoff after `now`)
    with app.app_context():
        return process_due(now or utcnow() + timedelta(seconds=1), monotonic=lambda: 0.0)


def enable(client, token: str, mode: str = "points"):
    response = client.post("/app/manage/grades", data={"lt": token, "enabled": "on", "mode": mode})
    assert response.status_code == 303, text(response)[:800]


def score_rows(app) -> list[OutboxItem]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "ags.score")).all()
        db.session.expunge_all()
        return rows


def test_suffix_goes_before_the_query_string():
    assert with_suffix("https://m.example/lineitems/2/lineitem?type_id=1", "/scores") == \
        "https://m.example/lineitems/2/lineitem/scores?type_id=1"
    assert with_suffix("https://c.example/api/lti/courses/1/line_items/5/", "/scores") == \
        "https://c.example/api/lti/courses/1/line_items/5/scores"


def test_opt_in_creates_exactly_one_lineitem(app, client, enter, ags):
    manager = enter("instructor", "teacher-1")
    page = client.get("/app/manage/grades", query_string={"lt": manager})
    assert page.status_code == 200 and "Grade sync is <strong>off</strong>" in text(page)
    enable(client, manager)
    counts = run(app)
    assert counts.done == 1 and ags.lineitem_posts == 1
    item = next(iter(ags.lineitems.values()))
    assert item["label"] == "AI experimentation" and item["tag"] == "tinker" and item["resourceId"] == "tinker"
    assert item["scoreMaximum"] == 600  # the top level's threshold
    # Saving again (another score mode) updates that item instead of making a second one.
    enable(client, manager, mode="progress")
    run(app)
    assert ags.lineitem_posts == 1 and len(ags.lineitems) == 1 and item["scoreMaximum"] == 100
    with app.app_context():
        assert db.session.get(GradeSync, 1).lineitem_url == item["id"]
    page = text(client.get("/app/manage/grades", query_string={"lt": manager}))
    assert "Grade sync is <strong>on</strong>" in page and item["id"] in page and "Synced" in page
    assert not ags.token_errors


def test_opt_in_finds_the_tools_line_item_on_a_later_page_instead_of_making_a_second(app, client, enter, ags):
    """The line items container is paged (Link rel="next"): Tinker's item (a course copy brings it along, or it
    was made before the course's sync row was lost) may be past the first page; a second "AI experimentation"
    column in the gradebook is what the learners would see otherwise."""
    for number in range(1, 13):  # the course's other gradable activities of this tool
        ags.lineitems[number] = {"id": f"{ags.base}/mod/lti/services.php/2/lineitems/{number}/lineitem?type_id=1",
                                 "label": f"Week {number}", "scoreMaximum": 10, "resourceId": f"week-{number}"}
    ags.lineitems[13] = {"id": f"{ags.base}/mod/lti/services.php/2/lineitems/13/lineitem?type_id=1",
                         "label": "AI experimentation", "scoreMaximum": 600, "resourceId": "tinker", "tag": "tinker"}
    ags.page_size = 5
    enable(client, enter("instructor", "teacher-1"))
    assert run(app).done == 1
    assert ags.lineitem_posts == 0 and len(ags.lineitems) == 13
    with app.app_context():
        assert db.session.get(GradeSync, 1).lineitem_url == ags.lineitems[13]["id"]


@pytest.mark.parametrize("status", [429, 403])
def test_a_refused_line_item_lookup_is_retried_not_answered_with_a_second_item(app, client, enter, ags, status):
    """The course already has Tinker's line item (a course copy brought it along); the platform refuses the
    lookup for a moment (429, or Canvas's 403 "Rate Limit Exceeded"): that is no proof the item is missing."""
    ags.lineitems[1] = {"id": f"{ags.base}/mod/lti/services.php/2/lineitems/1/lineitem?type_id=1",
                        "label": "AI experimentation", "scoreMaximum": 600, "resourceId": "tinker", "tag": "tinker"}
    ags.lineitems_answers = [status]
    enable(client, enter("instructor", "teacher-1"))
    assert run(app).retried == 1
    assert ags.lineitem_posts == 0
    assert run(app, utcnow() + timedelta(minutes=1)).done == 1
    assert ags.lineitem_posts == 0 and len(ags.lineitems) == 1
    with app.app_context():
        assert db.session.get(GradeSync, 1).lineitem_url == ags.lineitems[1]["id"]


def test_a_line_item_update_refused_with_401_gets_a_new_token_on_the_next_try(app, client, enter, ags):
    """The platform stops accepting the cached access token (revoked, or its key store was reset): the next
    try asks for a new token instead of sending the refused one again until it would have expired (an hour)."""
    manager = enter("instructor", "teacher-1")
    enable(client, manager)
    assert run(app).done == 1 and len(ags.token_requests) == 1
    ags.tokens.clear()
    enable(client, manager, mode="progress")
    moment = utcnow() + timedelta(seconds=1)
    assert run(app, moment).retried == 1
    assert run(app, moment + timedelta(seconds=30)).done == 1
    assert len(ags.token_requests) == 2 and next(iter(ags.lineitems.values()))["scoreMaximum"] == 100


def test_two_workers_at_once_make_one_line_item(app, client, enter, ags):
    """The after-request worker and the cron (or two app instances) deliver at the same time: one has claimed
    the course's line item delivery, the other the learners' scores. Only one line item may come of it."""
    import threading

    from plugin.outbox.service import Counts as OutboxCounts
    from plugin.outbox.service import claim_due, deliver

    enable(client, enter("instructor", "teacher-1"))
    log_experiment(client, enter())
    now = utcnow() + timedelta(seconds=1)
    listed, go_on = threading.Event(), threading.Event()

    def first_listing_waits():
        if not listed.is_set():
            listed.set()
            go_on.wait(10)

    ags.after_lineitems_get = first_listing_waits

    def worker_a():
        with app.app_context():
            [item] = claim_due(now, 1)  # the line item delivery (enqueued first)
            assert item[3] == "ags.lineitem"
            deliver(item, now, OutboxCounts())
            db.session.remove()

    a = threading.Thread(target=worker_a)
    a.start()
    assert listed.wait(10)  # worker A has seen an empty container and is about to create the item
    try:
        run(app, now)  # worker B: the scores
    finally:
        go_on.set()
        a.join(10)
    with app.app_context():  # worker A stored what it made (no transaction of its left open across the HTTP calls)
        assert db.session.get(GradeSync, 1).lineitem_url == ags.lineitems[1]["id"]
    run(app, now + timedelta(hours=1))
    assert ags.lineitem_posts == 1 and len(ags.lineitems) == 1
    assert [s["status"] for s in ags.scores] == [200] and ags.scores[0]["lineitem"] == ags.lineitems[1]["id"]


def test_a_line_item_deleted_in_the_lms_is_made_again_and_the_score_follows(app, client, enter, ags):
    enable(client, enter("instructor", "teacher-1"))
    run(app)
    ags.lineitems.clear()  # an instructor deleted the grade column
    log_experiment(client, enter())
    moment = utcnow() + timedelta(seconds=1)
    assert run(app, moment).retried == 1
    for _ in range(3):
        moment += timedelta(minutes=5)
        run(app, moment)
    assert ags.lineitem_posts == 2 and len(ags.lineitems) == 1
    [item] = ags.lineitems.values()
    assert ags.scores[-1]["status"] == 200 and ags.scores[-1]["lineitem"] == item["id"]
    assert [r.status for r in score_rows(app)] == [DONE]


def test_opt_in_needs_a_grade_service(client, enter, ags):
    manager = enter("instructor", "teacher-1", with_ags=False)
    response = client.post("/app/manage/grades", data={"lt": manager, "enabled": "on", "mode": "points"})
    assert response.status_code == 422 and "offers no grade service" in text(response)


def test_opt_in_needs_the_score_scope_too(app, client, lms, ags):
    """Canvas grants only the scopes ticked on the developer key: without `score`, every token request for grade
    sync is refused (invalid_scope) and each delivery fails after hours of retries; the manager is told at once."""
    claim = {**ags.claim(), "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                                      "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"]}
    response, _ = lms.launch(client, role="instructor", sub="teacher-1", overrides={AGS: claim})
    manager = token_from(response)
    response = client.post("/app/manage/grades", data={"lt": manager, "enabled": "on", "mode": "points"})
    assert response.status_code == 422 and "offers no grade service" in text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxItem)) == 0


def test_learners_cannot_configure_or_see_grade_sync(client, enter):
    learner = enter()
    assert client.get("/app/manage/grades", query_string={"lt": learner}).status_code == 403
    assert client.post("/app/manage/grades", data={"lt": learner, "enabled": "on"}).status_code == 403


def test_learner_logging_an_experiment_posts_their_score(app, client, enter, ags):
    manager = enter("instructor", "teacher-1")
    enable(client, manager)
    learner = enter("learner", "learner-1")
    assert log_experiment(client, learner).status_code == 303
    counts = run(app)
    assert counts.failed == 0 and counts.retried == 0
    [sent] = ags.scores
    item = next(iter(ags.lineitems.values()))
    assert sent["lineitem"] == item["id"] and sent["path"].endswith("/lineitems/1/lineitem/scores")
    assert sent["content_type"] == SCORE_TYPE
    body = sent["body"]
    with app.app_context():
        from plugin.ledger.service import balance
        learner_id = db.session.scalar(select(User.id).where(User.sub == "learner-1"))
        points = balance(1, learner_id)
    assert points > 0
    assert body["userId"] == "learner-1" and body["scoreGiven"] == points and body["scoreMaximum"] == 600
    assert body["gradingProgress"] == "FullyGraded" and body["activityProgress"] == "Completed"
    assert body["timestamp"].endswith("Z")
    assert [r.status for r in score_rows(app)] == [DONE]


def test_staff_are_never_pushed(app, client, enter, ags):
    manager = enter("instructor", "teacher-1")
    enable(client, manager)
    assert log_experiment(client, manager).status_code == 303
    admin = enter("admin", "admin-1")
    assert log_experiment(client, admin).status_code == 303
    run(app)
    assert score_rows(app) == [] and ags.scores == []
    with app.app_context():
        from plugin.outbox.grades import points_changed
        teacher_id = db.session.scalar(select(User.id).where(User.sub == "teacher-1"))
        points_changed(1, teacher_id, utcnow())
        db.session.commit()
    assert score_rows(app) == []


@pytest.mark.parametrize("status,note", [(400, "does not grade this user"), (409, "newer score")])
def test_moodle_refusals_finish_without_retrying(app, client, enter, ags, status, note):
    enable(client, enter("instructor", "teacher-1"))
    learner = enter()
    ags.score_answers = [status]
    log_experiment(client, learner)
    counts = run(app)
    assert counts.retried == 0 and counts.failed == 0
    [row] = score_rows(app)
    assert row.status == DONE and note in row.note and row.attempts == 1
    run(app, utcnow() + timedelta(days=1))
    assert len(ags.scores) == 1


def test_canvas_refusing_a_user_it_does_not_grade_finishes_without_retrying(app, client, enter, ags):
    """Canvas's counterpart of Moodle's 400: 422 "User not found in course or is not a student"."""
    enable(client, enter("instructor", "teacher-1"))
    learner = enter()
    ags.score_answers = [422]
    log_experiment(client, learner)
    counts = run(app)
    assert counts.retried == 0 and counts.failed == 0
    [row] = score_rows(app)
    assert row.status == DONE and "does not grade this user" in row.note and row.attempts == 1
    run(app, utcnow() + timedelta(days=1))
    assert len(ags.scores) == 1


def test_a_permanent_refusal_fails_at_once_with_the_platforms_reason(app, client, enter, ags):
    """A concluded Canvas course (422) will not take scores in an hour either: the delivery fails at once with the
    platform's words on the status page, where a manager can send it again, instead of eight tries over hours."""
    teacher = enter("instructor", "teacher-1")
    enable(client, teacher)
    learner = enter()
    ags.score_answers = [4221]
    log_experiment(client, learner)
    counts = run(app)
    assert counts.failed == 1 and counts.retried == 0
    [row] = score_rows(app)
    assert row.status == FAILED and row.attempts == 1 and "This course has concluded" in row.last_error
    run(app, utcnow() + timedelta(days=1))
    assert len(ags.scores) == 1
    assert "This course has concluded" in text(client.get("/app/manage/grades", query_string={"lt": teacher}))


def test_server_errors_are_retried_with_backoff_then_succeed(app, client, enter, ags):
    enable(client, enter("instructor", "teacher-1"))
    learner = enter()
    run(app)  # the line item
    ags.score_answers = [500, 503]
    log_experiment(client, learner)
    t0 = utcnow() + timedelta(seconds=1)
    assert run(app, t0).retried == 1
    [row] = score_rows(app)
    assert row.status == PENDING and row.attempts == 1 and row.next_attempt_at == t0 + timedelta(seconds=30)
    assert "HTTP 500" in row.last_error
    assert run(app, t0 + timedelta(seconds=20)).processed == 0  # not yet due
    assert run(app, t0 + timedelta(seconds=30)).retried == 1
    [row] = score_rows(app)
    assert row.attempts == 2 and row.next_attempt_at == t0 + timedelta(seconds=90)  # 30 s, then 60 s
    assert run(app, t0 + timedelta(seconds=90)).done == 1
    [row] = score_rows(app)
    assert row.status == DONE and row.last_error is None
    assert [s["status"] for s in ags.scores] == [500, 503, 200]
    page = text(client.get("/app/manage/grades", query_string={"lt": enter("instructor", "teacher-1")}))
    assert "Synced" in page


def test_rapid_changes_coalesce_to_the_latest_score(app, client, enter, ags):
    enable(client, enter("instructor", "teacher-1"))
    learner = enter()
    log_experiment(client, learner)
    log_experiment(client, learner, title="Second try with a different prompt", tried="Gave it examples first.")
    assert len(score_rows(app)) == 1
    run(app)
    [sent] = ags.accepted()
    with app.app_context():
        from plugin.ledger.service import balance
        assert sent["scoreGiven"] == balance(1, db.session.scalar(select(User.id).where(User.sub == "learner-1")))


def test_one_token_serves_several_scores(app, client, enter, ags):
    enable(client, enter("instructor", "teacher-1"))
    for sub in ("learner-1", "learner-2", "learner-3"):
        log_experiment(client, enter("learner", sub))
    run(app)
    assert len(ags.accepted()) == 3 and {s["userId"] for s in ags.accepted()} == {"learner-1", "learner-2", "learner-3"}
    assert len(ags.token_requests) == 1 and not ags.token_errors
    assert ags.token_requests[0]["scope"].split() == sorted([
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem", "https://purl.imsglobal.org/spec/lti-ags/scope/score"])


def test_turning_sync_off_stops_scores(app, client, enter, ags):
    manager = enter("instructor", "teacher-1")
    enable(client, manager)
    run(app)
    client.post("/app/manage/grades", data={"lt": manager, "mode": "points"})
    log_experiment(client, enter())
    run(app)
    assert ags.scores == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.kind == "ags.score")) == 0


def test_an_unreachable_token_endpoint_is_retried(app, client, enter, ags):
    enable(client, enter("instructor", "teacher-1"))
    ags.close()
    counts = run(app)
    assert counts.retried == 1
    with app.app_context():
        row = db.session.scalar(select(OutboxItem).where(OutboxItem.kind == "ags.lineitem"))
        assert row.status == PENDING and "token request" in row.last_error
        # the kind of failure, not the system's words: "Connection refused" against a timeout told which ports of
        # the address a platform's claim names were open (a teacher reads this on the grade sync page)
        assert row.last_error.endswith("failed: ConnectionError") and "refused" not in row.last_error


def test_an_lms_that_is_down_is_tried_once_a_pass_whichever_course_the_deliveries_are_for(app, client, lms, ags, cli):
    """Every course of an LMS shares its token endpoint: with it down, one try a pass fails and the other courses'
    deliveries wait for the next pass (a timeout per course would keep every other receiver waiting that long)."""
    for n in (1, 2, 3):
        response, _ = lms.launch(client, role="instructor", sub=f"teacher-{n}", context_id=f"course-{n}",
                                 overrides={AGS: ags.claim()})
        enable(client, token_from(response))
    ags.close()
    counts = run(app)
    assert (counts.retried, counts.held) == (3, 2)  # one line item request tried, the other two not sent
    with app.app_context():
        lanes = set(db.session.scalars(select(OutboxItem.lane).where(OutboxItem.kind == "ags.lineitem")))
        platform_id = db.session.scalar(select(User.platform_id).where(User.sub == "teacher-1"))
    assert lanes == {f"ags:{platform_id}"}
    status = cli("outbox", "status").output
    [line] = [line for line in status.splitlines() if line.strip().startswith(f"ags:{platform_id}, ")]
    # named as the operator registered it, with its organisation
    assert line.strip().startswith(f"ags:{platform_id}, the grade service of {lms.issuer} (client {lms.client_id}, ")
    assert "3 of 3 waiting failed a try (up to 1)" in line and "token request" in line


def test_where_lmss_are_kept_to_public_addresses_grades_for_one_on_the_servers_own_network_are_never_sent(
        app, client, enter, ags, monkeypatch, caplog):
    """The token endpoint and the line item URLs come from the LMS: in production, on a private address (here
    loopback) they are not called, and the delivery fails at once saying so and naming the setting (the address it
    resolved to in the operator's log)."""
    teacher = enter("instructor", "teacher-1")
    monkeypatch.setitem(app.config, "LTI_ALLOW_PRIVATE_PLATFORMS", False)
    enable(client, teacher)
    counts = run(app)
    assert (counts.failed, counts.retried) == (1, 0)
    with app.app_context():
        status, error = db.session.execute(select(OutboxItem.status, OutboxItem.last_error)
                                           .where(OutboxItem.kind == "ags.lineitem")).one()
    assert status == FAILED and "not called, it is on a private network address;" in error
    assert_refused_privately(error, caplog.text)
    assert ags.token_requests == [] and ags.lineitem_posts == 0


@pytest.mark.parametrize(("status", "held"), [(403, 0), (429, 1)])
def test_a_refusal_about_one_course_holds_no_other_course_of_the_lms_but_throttling_does(app, client, lms, ags,
                                                                                          status, held):
    """Courses of one LMS share its lane: a 403 on one course's line items is about that course, and the other
    course's line item still goes in the same pass; a 429 is the LMS throttling Tinker, which holds the rest."""
    for n in (1, 2):
        response, _ = lms.launch(client, role="instructor", sub=f"teacher-{n}", context_id=f"course-{n}",
                                 overrides={AGS: ags.claim()})
        enable(client, token_from(response))
    ags.lineitems_answers = [status]  # the first course's lookup is refused
    counts = run(app)
    assert (counts.retried, counts.held, counts.done) == (1 + held, held, 1 - held)
    assert ags.lineitem_posts == 1 - held


def test_deliveries_go_out_after_the_response_without_a_worker(app, client, enter, ags):
    import time

    from plugin.outbox import worker

    app.config["OUTBOX_AFTER_REQUEST"] = True
    try:
        response = client.post("/app/manage/grades", data={"lt": enter("instructor", "teacher-1"), "enabled": "on"})
        assert response.status_code == 303 and ags.lineitem_posts == 0  # the page did not wait for the LMS
        response.close()  # the server has sent it: now the delivery starts (WSGI close)
        deadline = time.monotonic() + 10
        while (ags.lineitem_posts == 0 or worker._running.locked()) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        app.config["OUTBOX_AFTER_REQUEST"] = False
    assert ags.lineitem_posts == 1


def test_another_course_sees_nothing_of_this_courses_sync(app, client, lms, ags):
    def enter_course(role, sub, context_id):
        response, _ = lms.launch(client, role=role, sub=sub, context_id=context_id, overrides={AGS: ags.claim()})
        return token_from(response)

    enable(client, enter_course("instructor", "teacher-1", "course-1"))
    log_experiment(client, enter_course("learner", "learner-1", "course-1"))
    run(app)
    other = enter_course("instructor", "teacher-2", "course-2")
    page = text(client.get("/app/manage/grades", query_string={"lt": other}))
    assert "Grade sync is <strong>off</strong>" in page and "Nothing sent yet" in page
    assert next(iter(ags.lineitems.values()))["id"] not in page


def _score_failing_every_retry(app, client, enter, ags):
    """A teacher with grade sync on and a learner whose score push failed all 8 tries: (teacher, learner, the
    moment after the last try)."""
    teacher = enter("instructor", "teacher-1")
    enable(client, teacher)
    learner = enter()
    run(app)  # the line item
    log_experiment(client, learner)
    ags.score_answers = [500] * 8
    moment = utcnow() + timedelta(seconds=1)
    for _ in range(8):
        run(app, moment)
        moment += timedelta(hours=2)
    return teacher, learner, moment


def test_a_manager_retries_failed_deliveries_from_the_status_page(app, client, enter, ags):
    """A score that gave up after every automatic retry is sent again when a manager asks, with a fresh
    count of attempts and the learner's current score; learners cannot ask."""
    teacher, learner, moment = _score_failing_every_retry(app, client, enter, ags)
    [row] = score_rows(app)
    assert row.status == FAILED and row.attempts == 8
    page = text(client.get("/app/manage/grades", query_string={"lt": teacher}))
    assert "Failed" in page and "Retry failed deliveries" in page

    assert client.post("/app/manage/grades/retry", data={"lt": learner}).status_code == 403
    response = client.post("/app/manage/grades/retry", data={"lt": teacher})
    assert response.status_code == 303
    assert "1 failed delivery will be sent again." in text(client.get(response.headers["Location"]))
    [row] = score_rows(app)
    assert row.status == PENDING and row.attempts == 0
    assert run(app, moment).done == 1
    [row] = score_rows(app)
    assert row.status == DONE and [s["status"] for s in ags.scores][-1] == 200
    page = text(client.get("/app/manage/grades", query_string={"lt": teacher}))
    assert "Retry failed deliveries" not in page
    with app.app_context():
        from plugin.audit.models import AuditEvent
        assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "grades.retried")) == {
            "deliveries": 1}


def _erase(client, enter, app, sub: str = "learner-1") -> int:
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.sub == sub))
    admin = enter("admin", "admin-1")
    response = client.post(f"/app/admin/privacy/erase/{user_id}", data={"lt": admin, "confirm": "ERASE"})
    assert response.status_code == 303, text(response)[:800]
    return user_id


def test_a_failed_push_retried_after_the_persons_erasure_sends_nothing(app, client, enter, ags):
    """Erasure removes the person's LMS id: a push that had failed before, retried by a manager afterwards, must
    not post a score for the pseudonymous id to the LMS."""
    teacher, learner, moment = _score_failing_every_retry(app, client, enter, ags)
    [row] = score_rows(app)
    assert row.status == FAILED and len(ags.scores) == 8
    _erase(client, enter, app)

    client.post("/app/manage/grades/retry", data={"lt": teacher})
    run(app, moment)
    assert len(ags.scores) == 8, [s["body"]["userId"] for s in ags.scores[8:]]


def test_points_changing_after_the_persons_erasure_send_no_score(app, client, enter, ags):
    teacher = enter("instructor", "teacher-1")
    enable(client, teacher)
    log_experiment(client, enter())
    run(app)
    assert len(ags.accepted()) == 1
    user_id = _erase(client, enter, app)
    with app.app_context():  # e.g. a manager's kudos or a confirmed peer help changes their points later
        from plugin.outbox.grades import points_changed
        points_changed(1, user_id, utcnow())
        db.session.commit()
    run(app, utcnow() + timedelta(minutes=1))
    assert [s["body"]["userId"] for s in ags.scores] == ["learner-1"]



TURKISH = {"https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {
    "return_url": "https://lms.example.edu/course/view.php?id=1", "locale": "tr"}}


def test_a_turkish_manager_reads_tinkers_words_in_turkish_and_the_platforms_as_it_said(app, client, lms, enter, ags):
    """Stored in English; the status page puts Tinker's words in Turkish around the platform's answer."""
    teacher = enter("instructor", "teacher-1")
    enable(client, teacher)

    def turkish_page() -> str:
        response, _ = lms.launch(client, role="instructor", sub="teacher-1", overrides={**TURKISH, AGS: ags.claim()})
        return visible(client.get("/app/manage/grades", query_string={"lt": token_from(response)}))

    ags.score_answers = [503, 4221]
    log_experiment(client, enter())
    assert run(app).retried == 1
    page = turkish_page()
    assert "Yeniden denenecek: POST http" in page and "/scores?type_id=1: HTTP 503 yanıtı" in page
    assert "Retry: POST" not in page

    assert run(app, utcnow() + timedelta(minutes=1)).failed == 1
    [row] = score_rows(app)
    assert row.last_error.startswith("the platform refused the score: HTTP 422 ")  # stored as written
    page = turkish_page()
    assert "platform puanı reddetti: HTTP 422" in page and "This course has concluded" in page
    assert "the platform refused the score" not in page
    english = visible(client.get("/app/manage/grades", query_string={"lt": teacher}))
    assert "the platform refused the score: HTTP 422" in english and "This course has concluded" in english


def test_the_grade_settings_error_summary_links_its_message_to_the_checkbox(client, enter, ags):
    """After a refused opt-in, a keyboard or screen reader user jumps from the summary to the field it is about."""
    manager = enter("instructor", "teacher-1", with_ags=False)
    page = text(client.post("/app/manage/grades", data={"lt": manager, "enabled": "on", "mode": "points"}))
    summary = re.search(r'<div class="card error-summary".*?</div>', page, re.S).group(0)
    link = re.search(r'<a href="#([^"]+)">Launch Tinker from the course with grades enabled for the tool.</a>', summary)
    assert link is not None and f'id="{link.group(1)}"' in page and 'name="enabled"' in page.split(
        f'id="{link.group(1)}"')[1][:200]


@pytest.mark.parametrize("how", ["found", "made"])
@pytest.mark.parametrize("bad, why, turkish", [
    ("/lineitems/1/lineitem\x00?type_id=1", "holds a NUL character", "NUL karakteri içeriyor"),
    ("/lineitems/1/lineitem?type_id=1&pad=" + "x" * 1000, "is longer than 1000 characters",
     "1000 karakterden uzun"),
])
def test_a_line_item_id_tinker_cannot_keep_fails_at_once_with_a_clear_reason(app, client, lms, enter, ags, how, bad,
                                                                              why, turkish):
    """The platform answers a line item id Tinker cannot store (PostgreSQL refuses a NUL character in text; the
    column holds 1000 characters): the delivery fails at once, saying so in the manager's language, instead of
    eight tries over hours each ending in the database's raw error."""
    url = f"{ags.base}/mod/lti/services.php/2{bad}"
    if how == "found":
        ags.lineitems[1] = {"id": url, "label": "AI experimentation", "scoreMaximum": 600, "resourceId": "tinker",
                            "tag": "tinker"}
    else:
        ags.new_lineitem_id = url
    enable(client, enter("instructor", "teacher-1"))
    counts = run(app)
    assert counts.failed == 1 and counts.retried == 0
    with app.app_context():
        [row] = db.session.scalars(select(OutboxItem).where(OutboxItem.kind == "ags.lineitem")).all()
        assert row.status == FAILED and row.attempts == 1
        assert row.last_error.startswith(f"the platform's line item id {why}")
        assert "Error" not in row.last_error
        assert db.session.get(GradeSync, 1).lineitem_url is None
    response, _ = lms.launch(client, role="instructor", sub="teacher-1", overrides={**TURKISH, AGS: ags.claim()})
    page = visible(client.get("/app/manage/grades", query_string={"lt": token_from(response)}))
    assert turkish in page and "the platform's line item id" not in page
