"""xAPI on the service side: settings (validated, audited, secret kept and never echoed), one statement per
event only while the organisation has xAPI on, idempotent by key, and the handler's reading of each kind
of LRS answer (a scripted HTTP server here; tests/xapi/test_lrs.py uses a real LRS)."""
from __future__ import annotations

import base64
import json
import socket
import threading
import time

import pytest
from marshmallow import ValidationError
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from plugin.audit.models import AuditEvent
from plugin.badges.service import BadgeGrant, award_badge
from plugin.core.actor import Role
from plugin.errors import Forbidden, InvalidInput
from plugin.extensions import db
from plugin.outbox import service as outbox
from plugin.outbox.models import DONE, FAILED, PENDING, OutboxItem
from plugin.peer_help.service import HELPED_ME, I_HELPED, confirm_help, record_help
from plugin.recognition.service import give_kudos
from plugin.xapi import service as xapi
from plugin.xapi.delivery import statements_url
from tests.services.factories import later, log, make_actor, make_platform
from tests.support.refusals import assert_refused_privately
from tests.xapi.spec import problems
from tests.xapi.test_lrs import make_world


def settings_input(**overrides) -> dict:
    data = {"enabled": True, "endpoint": "https://lrs.example.org/xAPI/", "key": "tinker", "secret": "s3cret"}
    data.update(overrides)
    return xapi.XIn().load(data)


def rows() -> list[OutboxItem]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxItem).where(OutboxItem.kind == xapi.KIND).order_by(OutboxItem.id)))


def events(world) -> None:
    log(world.learner, later(1))
    record_help(world.learner, other_user_id=world.helper.user_id, direction=HELPED_ME,
                description="Walked me through checking sources.", now=later(2))
    award_badge(BadgeGrant(badge_id=world.badge_id, organisation_id=world.learner.organisation_id,
                           course_id=world.learner.course_id, user_id=world.learner.user_id, key="grant-1"), later(3))
    give_kudos(world.manager, receiver_id=world.learner.user_id, message="A generous share of prompts.",
               submission_key="k-1", now=later(4))
    db.session.commit()


# -- settings ---------------------------------------------------------------------------------------------

def test_settings_are_saved_audited_and_the_secret_is_kept_when_left_blank(appctx):
    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    xapi.update_settings(world.admin, settings_input(secret="", key="tinker-2"), later(1))
    db.session.commit()
    row = xapi.settings(world.admin.organisation_id)
    assert (row.enabled, row.endpoint, row.key, xapi.lrs_secret(row), row.send_email) == (
        True, "https://lrs.example.org/xAPI/", "tinker-2", "s3cret", False)
    assert "s3cret" not in row.secret_encrypted  # encrypted at rest
    assert row.ready
    audit = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "xapi.settings_changed")
                                    .order_by(AuditEvent.id)))
    assert [a.details.get("secret") for a in audit] == ["changed", None]
    assert audit[1].details == {"key": ["tinker", "tinker-2"]}
    assert all("s3cret" not in json.dumps(a.details) for a in audit)


def test_the_first_save_sent_twice_at_once_is_saved_once_without_a_server_error(app, appctx):
    """A double click on Save the first time: both requests make the organisation's settings row; the second must
    wait for the first and update it, not fail on its primary key."""
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    admin = make_world().admin

    def save():
        return xapi.update_settings(admin, settings_input(), later(0)).organisation_id

    assert while_the_first_waits_to_commit(app, save, save) == [admin.organisation_id] * 2
    assert xapi.settings(admin.organisation_id).enabled is True


@pytest.mark.parametrize("via_blank", [False, True])
def test_the_saved_secret_goes_to_another_host_only_when_typed_again(appctx, via_blank):
    """An admin who does not know the LRS secret cannot have Tinker send it to a host of theirs, directly or by
    clearing the endpoint first."""
    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    if via_blank:
        xapi.update_settings(world.admin, settings_input(enabled=False, endpoint="", secret=""), later(1))
    with pytest.raises(InvalidInput) as err:
        xapi.update_settings(world.admin, settings_input(endpoint="https://collector.example.net/xAPI/", secret=""),
                             later(2))
    assert "secret" in err.value.errors
    xapi.update_settings(world.admin, settings_input(endpoint="https://collector.example.net/xAPI/",
                                                     secret="their-own"), later(3))
    assert xapi.lrs_secret(xapi.settings(world.admin.organisation_id)) == "their-own"


@pytest.mark.parametrize("endpoint", ["ftp://lrs.example.org/xAPI", "lrs.example.org", "https://lrs/x?a=1", "javascript:alert(1)"])
def test_endpoint_must_be_an_http_address(endpoint):
    with pytest.raises(ValidationError) as err:
        settings_input(endpoint=endpoint)
    assert "endpoint" in err.value.messages


def test_turning_on_needs_endpoint_key_and_secret(appctx):
    world = make_world()
    with pytest.raises(InvalidInput) as err:
        xapi.update_settings(world.admin, settings_input(endpoint="", key="", secret=""), later(0))
    assert set(err.value.errors) == {"endpoint", "key", "secret"}
    # Off, nothing is required (an admin may save half-filled details).
    xapi.update_settings(world.admin, settings_input(enabled=False, endpoint="", key="", secret=""), later(0))


def test_only_admins_change_settings_or_read_the_status(appctx):
    world = make_world()
    for actor in (world.manager, world.learner):
        with pytest.raises(Forbidden):
            xapi.update_settings(actor, settings_input(), later(0))
        with pytest.raises(Forbidden):
            xapi.recent(actor)
        with pytest.raises(Forbidden):
            xapi.send_test(actor, later(0))


# -- what is enqueued --------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["never configured", "turned off", "no secret"])
def test_nothing_is_enqueued_unless_xapi_is_on(appctx, how):
    world = make_world()
    if how == "turned off":
        xapi.update_settings(world.admin, settings_input(), later(0))
        xapi.update_settings(world.admin, settings_input(enabled=False), later(0))
    elif how == "no secret":
        xapi.update_settings(world.admin, settings_input(enabled=False, secret=""), later(0))
        xapi.settings(world.admin.organisation_id).enabled = True  # as if it lost its secret
    events(world)
    assert rows() == []


def test_one_statement_per_event_in_the_events_transaction(appctx):
    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    db.session.commit()
    log(world.learner, later(1))
    db.session.rollback()  # an experiment that never happened sends nothing
    assert rows() == []
    events(world)
    found = rows()
    kinds = [r.payload["event"] for r in found]
    assert kinds.count("experiment_logged") == 1 and kinds.count("help_confirmed") == 1
    assert kinds.count("kudos_received") == 1
    assert kinds.count("badge_earned") >= 1  # the grant, and any badge a default rule awarded
    assert all(r.status == PENDING and r.course_id == world.learner.course_id for r in found)
    for r in found:
        statement = r.payload["statement"]
        assert problems(statement) == [], r.dedupe_key
        assert r.payload["organisation_id"] == world.learner.organisation_id


def test_the_same_fact_is_enqueued_once(appctx):
    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    logged = log(world.learner, later(1), submission_key="same-form")
    log(world.learner, later(2), submission_key="same-form")  # a double click: the same experiment
    grant = BadgeGrant(badge_id=world.badge_id, organisation_id=world.learner.organisation_id,
                       course_id=world.learner.course_id, user_id=world.learner.user_id, key="grant-1")
    award_badge(grant, later(3))
    award_badge(grant, later(4))
    xapi.experiment_logged(logged.experiment, later(5))  # called again for the same experiment
    db.session.commit()
    keys = [r.dedupe_key for r in rows()]
    assert keys.count(f"xapi:experiment:{logged.experiment.id}") == 1
    from plugin.badges.models import BadgeAward

    awards = db.session.scalars(select(BadgeAward.id)).all()
    assert sorted(k for k in keys if k.startswith("xapi:badge:")) == sorted(f"xapi:badge:{a}" for a in awards)
    payloads = [r.payload["statement"]["id"] for r in rows()]
    assert len(payloads) == len(set(payloads))


def test_help_is_sent_when_confirmed_not_when_claimed(appctx):
    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    claimed = record_help(world.helper, other_user_id=world.learner.user_id, direction=I_HELPED,
                          description="Showed how to write a prompt.", now=later(1))
    assert [r for r in rows() if r.payload["event"] == "help_confirmed"] == []
    confirm_help(world.learner, claimed.help.id, later(2))
    [sent] = [r for r in rows() if r.payload["event"] == "help_confirmed"]
    assert sent.payload["statement"]["timestamp"] == "2025-03-03T09:02:00.000Z"
    assert sent.payload["statement"]["actor"]["account"]["name"] == "helper-1"


def test_nothing_people_typed_leaves_tinker(appctx):
    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    typed = {"title": "Secret project codename", "tried": "Pasted the board minutes " + "x" * 20,
             "learned": "Never paste board minutes"}
    log(world.learner, later(1), outcome="failed", **typed)
    record_help(world.learner, other_user_id=world.helper.user_id, direction=HELPED_ME,
                description="Private matter about a colleague", now=later(2))
    give_kudos(world.manager, receiver_id=world.learner.user_id, message="Personal note of thanks",
               submission_key="k-2", now=later(3))
    sent = json.dumps([r.payload for r in rows()])
    for text in [*typed.values(), "Private matter", "Personal note"]:
        assert text not in sent


def test_private_and_anonymous_experiments_do_not_name_their_author_in_the_lrs(appctx):
    """Staff never see who logged a private entry or an anonymous failure; the LRS (read by staff) must not
    either. A private entry shared later is reported then, as of when it was logged."""
    from plugin.experiments.service import share_experiment

    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    private = log(world.learner, later(1), visibility="private").experiment
    anonymous = log(world.learner, later(2), outcome="failed", anonymous=True,
                    learned="Check the sources it cites before trusting them.").experiment
    db.session.commit()
    keys = {r.dedupe_key for r in rows()}
    assert f"xapi:experiment:{private.id}" not in keys
    assert f"xapi:experiment:{anonymous.id}" not in keys

    share_experiment(world.learner, private.id, "course", later(3))
    db.session.commit()
    [sent] = [r for r in rows() if r.dedupe_key == f"xapi:experiment:{private.id}"]
    assert sent.payload["statement"]["actor"]["account"]["name"] == "learner-1"
    assert sent.payload["statement"]["timestamp"] == "2025-03-03T09:01:00.000Z"


def test_an_experiment_made_private_again_is_voided_in_the_lrs_and_reported_anew_when_shared_again(appctx):
    """The LRS (read by staff) must not keep showing an entry its author made private again; shared once more,
    it is reported with a statement of its own (a voided statement id cannot stand again)."""
    from plugin.experiments.service import share_experiment

    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    experiment = log(world.learner, later(1), visibility="course").experiment
    db.session.commit()
    share_experiment(world.learner, experiment.id, "private", later(2))
    share_experiment(world.learner, experiment.id, "private", later(3))  # already private: nothing more
    db.session.commit()
    found = {r.dedupe_key: r for r in rows()}
    first = found[f"xapi:experiment:{experiment.id}"].payload["statement"]
    void = found[f"xapi:void:xapi:experiment:{experiment.id}"].payload
    assert void["statement"]["object"] == {"objectType": "StatementRef", "id": first["id"]}
    assert void["voids"] == f"xapi:experiment:{experiment.id}" and problems(void["statement"]) == []
    assert len([k for k in found if k.startswith("xapi:void:")]) == 1

    share_experiment(world.learner, experiment.id, "team", later(4))
    db.session.commit()
    attempts = [r.payload["statement"] for r in rows() if r.payload["event"] == "experiment_logged"]
    assert len(attempts) == 2 and attempts[1]["id"] != first["id"]
    assert attempts[1]["object"]["id"] == first["object"]["id"]
    share_experiment(world.learner, experiment.id, "private", later(5))
    db.session.commit()
    voided = [r.payload["statement"]["object"]["id"] for r in rows() if r.payload["event"] == "voided"]
    assert voided == [first["id"], attempts[1]["id"]]


def test_text_an_organisation_wrote_in_turkish_is_not_tagged_as_english(appctx):
    """A language map's key says the language of its text (xAPI 1.0.3 Data 5.2.1, RFC 5646). Tinker's own words are
    English; course titles, badge, category and value names are the LMS's and the organisation's, in a language
    Tinker does not know: `und` (undetermined), never `en`. Seeded names still in their English text stay `en`."""
    from plugin.badges.service import get_or_create_badge
    from plugin.catalog.models import TaskCategory, ValueTag
    from plugin.tenancy.models import Course
    from tests.services.factories import items

    world = make_world()
    xapi.update_settings(world.admin, settings_input(), later(0))
    db.session.get(Course, world.learner.course_id).title = "Yapay Zekâ ile Çalışmak"
    category = items(world.learner.organisation_id, "categories")[0]
    db.session.get(TaskCategory, category.id).name = "Sınav hazırlığı"
    value = db.session.get(ValueTag, items(world.learner.organisation_id, "values")[0].id)
    value.name = "Cesaret"
    turkish = get_or_create_badge(world.learner.organisation_id, "oncu", later(0), name="Yapay Zekâ Öncüsü",
                                  description="Ekibine yapay zekâyı öğretti.", manual=True)
    seeded = get_or_create_badge(world.learner.organisation_id, "champion", later(0), name="Champion",
                                 description="Recognised by a manager as an AI champion.", manual=True)
    db.session.flush()
    log(world.learner, later(1), task_category=category.id)
    for badge in (turkish, seeded):
        award_badge(BadgeGrant(badge_id=badge.id, organisation_id=world.learner.organisation_id,
                               course_id=world.learner.course_id, user_id=world.learner.user_id,
                               key=f"grant-{badge.id}"), later(2))
    give_kudos(world.manager, receiver_id=world.learner.user_id, message="Teşekkürler", value_tag_id=value.id,
               submission_key="k-tr", now=later(3))
    db.session.commit()
    sent = {r.payload["event"] + ("-seeded" if "Champion" in json.dumps(r.payload) else ""): r.payload["statement"]
            for r in rows()}
    course = sent["experiment_logged"]["context"]["contextActivities"]["grouping"][0]["definition"]["name"]
    assert course == {"und": "Yapay Zekâ ile Çalışmak"}
    assert list(sent["experiment_logged"]["object"]["definition"]["name"]) == ["und"]
    assert sent["badge_earned"]["object"]["definition"]["name"] == {"und": "Yapay Zekâ Öncüsü"}
    assert sent["badge_earned"]["object"]["definition"]["description"] == {"und": "Ekibine yapay zekâyı öğretti."}
    assert sent["kudos_received"]["object"]["definition"]["name"] == {"und": "Kudos for Cesaret"}
    assert sent["badge_earned-seeded"]["object"]["definition"]["name"] == {"en": "Champion"}
    assert all(s["verb"]["display"].keys() == {"en"} and problems(s) == [] for s in sent.values())


def test_revoking_kudos_or_a_badge_voids_the_statement_that_was_queued(appctx):
    from plugin.recognition.service import award_badge_manually, revoke_badge, revoke_kudos

    world = make_world()
    kudos = give_kudos(world.manager, receiver_id=world.learner.user_id, message="Thanks for the demo.",
                       submission_key="k-9", now=later(1))
    revoke_kudos(world.manager, kudos.id, "Given by mistake", later(2))  # xAPI off then: nothing to void
    xapi.update_settings(world.admin, settings_input(), later(3))
    award_id = award_badge_manually(world.manager, receiver_id=world.learner.user_id, badge_id=world.badge_id,
                                    comment="Ran a clinic.", now=later(4))
    revoke_badge(world.manager, award_id, "Wrong person", later(5))
    revoke_badge(world.manager, award_id, "Wrong person", later(6))  # twice: one voiding statement
    db.session.commit()
    found = {r.dedupe_key: r for r in rows()}
    assert f"xapi:void:xapi:kudos:{kudos.id}" not in found
    void = found[f"xapi:void:xapi:badge:{award_id}"].payload
    assert void["event"] == "voided"
    assert void["statement"]["object"] == {"objectType": "StatementRef",
                                           "id": found[f"xapi:badge:{award_id}"].payload["statement"]["id"]}
    assert void["statement"]["actor"]["account"]["name"] == "manager-1"
    assert void["statement"]["timestamp"] == "2025-03-03T09:05:00.000Z"
    assert problems(void["statement"]) == []
    assert len([k for k in found if k.startswith("xapi:void:")]) == 1


def test_revoking_kudos_voids_the_badges_it_earned_too(appctx):
    """A rule's badge earned by kudos is revoked with the kudos: the LRS must not keep it as earned."""
    from plugin.badges.models import BadgeAward
    from plugin.recognition.service import revoke_kudos
    from plugin.rules.definitions import create_rule

    world = make_world()
    create_rule(world.learner.organisation_id, {"name": "Recognised", "condition": "each_kudos", "points": 0,
                                                "badge_id": world.badge_id}, later(0))
    xapi.update_settings(world.admin, settings_input(), later(0))
    kudos = give_kudos(world.manager, receiver_id=world.learner.user_id, message="Thanks for the demo.",
                       submission_key="k-10", now=later(1))
    [award] = db.session.scalars(select(BadgeAward).where(BadgeAward.source_type == "kudos",
                                                          BadgeAward.source_id == kudos.id)).all()
    revoke_kudos(world.manager, kudos.id, "Given by mistake", later(2))
    db.session.commit()
    assert db.session.get(BadgeAward, award.id).revoked_at is not None
    found = {r.dedupe_key: r for r in rows()}
    earned = found[f"xapi:badge:{award.id}"].payload["statement"]["id"]
    void = found[f"xapi:void:xapi:badge:{award.id}"].payload["statement"]
    assert void["object"] == {"objectType": "StatementRef", "id": earned}
    assert f"xapi:void:xapi:kudos:{kudos.id}" in found


def test_statements_of_two_organisations_never_mix(appctx):
    world = make_world()
    other = make_platform(issuer="https://other-lms.example", client_id="c2", organisation="Org B")
    other_admin = make_actor(other, "admin-b", role=Role.ADMIN)
    for admin in (world.admin, other_admin):
        xapi.update_settings(admin, settings_input(), later(0))
    log(world.learner, later(1))
    log(make_actor(other, "learner-b"), later(1))
    db.session.commit()
    mine = xapi.recent(world.admin)
    theirs = xapi.recent(other_admin)
    assert len(mine) >= 1 and len(theirs) >= 1
    assert {s.item.id for s in mine}.isdisjoint({s.item.id for s in theirs})
    assert all(s.item.payload["organisation_id"] == world.admin.organisation_id for s in mine)


# -- delivery: each kind of answer ------------------------------------------------------------------------

class ScriptedLrs:
    """An HTTP server answering PUT /xAPI/statements with the status the test asks for; records requests."""

    def __init__(self):
        self.status, self.body, self.headers, self.requests, self.delay = 204, b"", {}, [], 0.0
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = make_server("127.0.0.1", self.port, self._app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.endpoint = f"http://127.0.0.1:{self.port}/xAPI/"

    @Request.application
    def _app(self, request: Request) -> Response:
        self.requests.append({"method": request.method, "path": request.path, "args": dict(request.args),
                              "headers": dict(request.headers), "json": request.get_json(silent=True)})
        time.sleep(self.delay)
        return Response(self.body, status=self.status, headers=self.headers, content_type="application/json")

    def close(self):
        self.server.shutdown()


@pytest.fixture
def scripted():
    server = ScriptedLrs()
    yield server
    server.close()


def one_statement(world, endpoint: str) -> OutboxItem:
    xapi.update_settings(world.admin, settings_input(endpoint=endpoint), later(0))
    log(world.learner, later(1))
    db.session.commit()
    return [r for r in rows() if r.payload["event"] == "experiment_logged"][0]


def deliver(row: OutboxItem) -> OutboxItem:
    db.session.execute(OutboxItem.__table__.update().where(OutboxItem.id != row.id).values(status=DONE))
    db.session.commit()
    outbox.process_due(later(10))
    return next(r for r in rows() if r.id == row.id)


def test_put_with_the_statement_id_basic_auth_and_version_header(appctx, scripted):
    row = one_statement(make_world(), scripted.endpoint)
    assert deliver(row).status == DONE
    [sent] = scripted.requests
    assert sent["method"] == "PUT" and sent["path"] == "/xAPI/statements"
    assert sent["args"] == {"statementId": row.payload["statement"]["id"]}
    assert sent["headers"]["X-Experience-Api-Version"] == "1.0.3"
    assert sent["headers"]["Authorization"] == "Basic " + base64.b64encode(b"tinker:s3cret").decode()
    assert sent["json"] == row.payload["statement"]


@pytest.mark.parametrize("status, body, outcome, words", [
    (200, b"", DONE, "stored by the LRS (HTTP 200)"),
    (409, b'{"detail": "A different statement already exists with the same ID"}', DONE, "already holds"),
    (503, b'{"message": "maintenance"}', PENDING, "HTTP 503: maintenance"),
    (429, b"slow down", PENDING, "HTTP 429"),
    (401, b'{"detail": "Invalid authentication credentials"}', FAILED, "key and secret (HTTP 401)"),
    (404, b"Not Found", FAILED, "refused the statement (HTTP 404): Not Found"),
    (400, b'{"detail": [{"loc": ["body", "actor"], "msg": "bad agent"}]}', FAILED, "body.actor: bad agent"),
    (302, b"", FAILED, "redirects"),
])
def test_each_kind_of_answer(appctx, scripted, status, body, outcome, words):
    scripted.status, scripted.body = status, body
    if status == 302:
        scripted.headers = {"Location": "https://elsewhere.example/xAPI/statements"}
    row = deliver(one_statement(make_world(), scripted.endpoint))
    assert row.status == outcome
    assert words in (row.note or row.last_error or "")
    assert row.attempts == 1


def test_unreachable_lrs_is_retried_later(appctx):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    row = deliver(one_statement(make_world(), f"http://127.0.0.1:{port}/xAPI"))
    assert row.status == PENDING and row.attempts == 1
    assert row.next_attempt_at > later(10)
    assert f"could not connect to the LRS at 127.0.0.1:{port}" in row.last_error


def test_an_lrs_that_is_down_is_tried_once_a_pass_not_once_per_statement(appctx):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    world = make_world()
    xapi.update_settings(world.admin, settings_input(endpoint=f"http://127.0.0.1:{port}/xAPI"), later(0))
    events(world)
    counts = outbox.process_due(later(10))
    not_sent = [row for row in rows() if row.last_error.startswith("Retry: not sent: its receiver had just failed")]
    assert (counts.retried, counts.held) == (len(rows()), len(rows()) - 1) and len(not_sent) == len(rows()) - 1 >= 2
    # the operator's status names it by its host and organisation, with the error of the try that reached it
    from plugin.outbox.status import failing_receivers
    from plugin.tenancy.models import Organisation

    [receiver] = failing_receivers()
    assert receiver.lane == f"xapi:{world.admin.organisation_id}" and receiver.retrying == len(rows())
    organisation = db.session.get(Organisation, world.admin.organisation_id).name
    assert receiver.name == f"the LRS on 127.0.0.1:{port} ({organisation})" and "/xAPI" not in receiver.name
    assert not receiver.last_error.startswith("Retry: not sent")


def test_a_slow_lrs_is_retried_later(app, appctx, scripted, monkeypatch):
    monkeypatch.setitem(app.config, "XAPI_HTTP_TIMEOUT", 0.2)
    scripted.delay = 1.0
    row = deliver(one_statement(make_world(), scripted.endpoint))
    assert row.status == PENDING and row.attempts == 1
    assert "did not answer within 0.2 s" in row.last_error


def test_statements_waiting_when_xapi_is_turned_off_are_not_sent(appctx, scripted):
    world = make_world()
    row = one_statement(world, scripted.endpoint)
    xapi.update_settings(world.admin, settings_input(endpoint=scripted.endpoint, enabled=False), later(2))
    db.session.commit()
    row = deliver(row)
    assert row.status == FAILED and "xAPI is off" in row.last_error
    assert scripted.requests == []


def test_a_plain_http_lrs_is_refused_where_private_endpoints_are(app, appctx, monkeypatch):
    """Statements name people and the LRS key and secret go with each: in production (private endpoints not
    allowed) the LRS is reached over https only; an LRS on the operator's own network may use http."""
    from marshmallow import ValidationError

    monkeypatch.setitem(app.config, "XAPI_ALLOW_PRIVATE_ENDPOINTS", False)
    with pytest.raises(ValidationError) as err:
        settings_input(endpoint="http://lrs.example.org/xAPI/")
    assert "https://" in " ".join(err.value.messages["endpoint"])
    assert settings_input(endpoint="https://lrs.example.org/xAPI/")["endpoint"] == "https://lrs.example.org/xAPI/"
    monkeypatch.setitem(app.config, "XAPI_ALLOW_PRIVATE_ENDPOINTS", True)
    assert settings_input(endpoint="http://lrs.internal:8100/xAPI/")["endpoint"] == "http://lrs.internal:8100/xAPI/"


def test_private_endpoints_are_refused_where_the_operator_forbids_them(app, appctx, scripted, monkeypatch, caplog):
    row = one_statement(make_world(), scripted.endpoint)
    monkeypatch.setitem(app.config, "XAPI_ALLOW_PRIVATE_ENDPOINTS", False)
    row = deliver(row)
    assert row.status == FAILED
    assert_refused_privately(row.last_error, caplog.text)
    assert scripted.requests == []


def test_a_secret_that_can_no_longer_be_read_is_reported(app, appctx, scripted, monkeypatch):
    row = one_statement(make_world(), scripted.endpoint)
    monkeypatch.setitem(app.config, "SECRET_KEY", "another-secret-key")
    row = deliver(row)
    assert row.status == FAILED and "save it again" in row.last_error
    assert scripted.requests == []


def test_statements_url_appends_to_the_endpoint():
    assert statements_url("https://lrs.example.org/xAPI/") == "https://lrs.example.org/xAPI/statements"
    assert statements_url("https://lrs.example.org/data/xAPI") == "https://lrs.example.org/data/xAPI/statements"


def test_a_void_never_reaches_the_lrs_before_the_statement_it_voids(appctx, scripted):
    """The badge's statement waits for a retry (the LRS was down) when the badge is revoked: the voiding statement
    waits for it, else the LRS stores the void first and then the badge as earned, never voided."""
    from plugin.recognition.service import award_badge_manually, revoke_badge

    world = make_world()
    xapi.update_settings(world.admin, settings_input(endpoint=scripted.endpoint), later(0))
    award_id = award_badge_manually(world.manager, receiver_id=world.learner.user_id, badge_id=world.badge_id,
                                    comment="Ran a clinic.", now=later(1))
    db.session.commit()
    earned = next(r for r in rows() if r.dedupe_key == f"xapi:badge:{award_id}")
    db.session.execute(OutboxItem.__table__.update().where(OutboxItem.id != earned.id).values(status=DONE))
    db.session.execute(OutboxItem.__table__.update().where(OutboxItem.id == earned.id).values(
        attempts=2, next_attempt_at=later(30), last_error="Retry: the LRS answered HTTP 503"))  # in its backoff
    revoke_badge(world.manager, award_id, "Wrong person", later(2))
    db.session.commit()
    outbox.process_due(later(3))
    outbox.process_due(later(31))
    outbox.process_due(later(40))
    verbs = [r["json"]["verb"]["id"] for r in scripted.requests if r["json"]]
    assert verbs[:1] == ["http://id.tincanapi.com/verb/earned"]
    assert verbs.count("http://adlnet.gov/expapi/verbs/voided") == 1 and verbs[-1].endswith("/voided")
    assert {r.status for r in rows()} == {DONE}
