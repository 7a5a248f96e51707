"""The statement builders on their own: every statement conforms to xAPI 1.0.3 as far as a statement alone
can be checked (tests/xapi/spec.py), with ADL/registry verbs where they exist and Tinker IRIs otherwise."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from plugin.xapi import statements as S
from tests.xapi.spec import problems

BASE = "https://tinker.example.org"
AT = datetime(2025, 3, 3, 9, 0, 0, 123456, tzinfo=timezone.utc)
SID = S.statement_id(f"{BASE}/organisations/1/2025-01-01T00:00:00+00:00", "xapi:experiment:1")
ANN = S.Person(issuer="https://lms.example.edu", sub="a1b2-c3", name="Ann Example", email="ann@example.edu")
BOB = S.Person(issuer="https://lms.example.edu", sub="77", name=None, email=None)
COURSE = S.Course(id=4, title="AI at work", issuer="https://lms.example.edu", deployment_id="dep-1",
                  context_id="ctx-42")
BADGE = S.Badge(url=f"{BASE}/ob/v2/badges/3", name="AI Champion", description="Champions careful AI use.",
                image_url=f"{BASE}/badges/3/image", issuer_url=f"{BASE}/ob/v2/issuers/1",
                assertion_url=f"{BASE}/ob/v2/assertions/abc123")


def experiment(**overrides) -> dict:
    args = dict(base=BASE, statement_uuid=SID, person=ANN, course=COURSE, experiment_id=9, tool="ChatGPT",
                category="Writing", outcome="worked", minutes_saved=15, at=AT)
    args.update(overrides)
    return S.experiment_logged(**args)


def every_kind(send_email: bool = False) -> dict[str, dict]:
    return {
        "experiment": experiment(send_email=send_email),
        "help": S.help_confirmed(base=BASE, statement_uuid=SID, helper=ANN, helped=BOB, course=COURSE, help_id=6,
                                 across_teams=True, at=AT, send_email=send_email),
        "badge": S.badge_earned(base=BASE, statement_uuid=SID, person=ANN, course=COURSE, badge=BADGE, at=AT,
                                send_email=send_email),
        "kudos": S.kudos_received(base=BASE, statement_uuid=SID, receiver=ANN, giver=BOB, course=COURSE,
                                  kudos_id=5, points=10, value="Curiosity", at=AT, send_email=send_email),
        "test": S.connection_test(base=BASE, statement_uuid=SID, person=ANN, course=COURSE, at=AT,
                                  send_email=send_email),
        "void": S.voided(statement_uuid=SID, voided_id=str(uuid.uuid4()), by=BOB, at=AT, send_email=send_email),
    }


@pytest.mark.parametrize("send_email", [False, True])
def test_every_statement_conforms_to_xapi(send_email):
    for kind, statement in every_kind(send_email).items():
        assert problems(statement) == [], kind


def test_required_properties_uuid_id_and_millisecond_utc_timestamp():
    for statement in every_kind().values():
        assert {"id", "actor", "verb", "object", "timestamp"} <= set(statement)
        assert uuid.UUID(statement["id"]).version == 5
        assert statement["timestamp"] == "2025-03-03T09:00:00.123Z"


def test_timestamp_is_when_the_fact_happened_in_utc():
    paris = timezone(timedelta(hours=1))
    assert S.timestamp(datetime(2025, 3, 3, 10, 0, tzinfo=paris)) == "2025-03-03T09:00:00.000Z"
    with pytest.raises(ValueError):
        S.timestamp(datetime(2025, 3, 3, 10, 0))


def test_statement_id_is_deterministic_per_fact_and_scope():
    scope = f"{BASE}/organisations/1/2025-01-01T00:00:00+00:00"
    assert S.statement_id(scope, "xapi:kudos:1") == S.statement_id(scope, "xapi:kudos:1")
    assert S.statement_id(scope, "xapi:kudos:1") != S.statement_id(scope, "xapi:kudos:2")
    # A database started afresh (its organisation created at another time) never reuses an id.
    assert S.statement_id(scope, "xapi:kudos:1") != S.statement_id(
        f"{BASE}/organisations/1/2026-01-01T00:00:00+00:00", "xapi:kudos:1")


def test_actor_is_the_lms_account_never_the_email_unless_opted_in():
    account = {"objectType": "Agent", "account": {"homePage": "https://lms.example.edu", "name": "a1b2-c3"}}
    for statement in [s for kind, s in every_kind().items() if kind != "void"]:
        assert statement["actor"] == account
        assert "ann@example.edu" not in str(statement) and "Ann Example" not in str(statement)
    opted = every_kind(send_email=True)["experiment"]["actor"]
    assert opted == {"objectType": "Agent", "mbox": "mailto:ann@example.edu", "name": "Ann Example"}
    # Opted in, but the LMS shared no address: still the account.
    assert S.agent(BOB, send_email=True) == {"objectType": "Agent",
                                             "account": {"homePage": "https://lms.example.edu", "name": "77"}}


def test_verbs_come_from_published_vocabularies_where_they_exist():
    kinds = every_kind()
    assert kinds["experiment"]["verb"] == {"id": "http://adlnet.gov/expapi/verbs/attempted",
                                           "display": {"en": "attempted"}}
    assert kinds["badge"]["verb"] == {"id": "http://id.tincanapi.com/verb/earned", "display": {"en": "earned"}}
    assert kinds["kudos"]["verb"] == {"id": "http://activitystrea.ms/schema/1.0/receive",
                                      "display": {"en": "received"}}
    assert kinds["help"]["verb"] == {"id": f"{BASE}/xapi/verbs/helped", "display": {"en": "helped"}}
    assert kinds["badge"]["object"]["definition"]["type"] == "http://activitystrea.ms/schema/1.0/badge"


def test_context_groups_statements_under_the_course_as_an_activity():
    for kind, statement in [(k, s) for k, s in every_kind().items() if k != "void"]:
        [course] = statement["context"]["contextActivities"]["grouping"]
        assert course["id"] == f"{BASE}/xapi/activities/courses/4"
        assert course["definition"]["type"] == "http://adlnet.gov/expapi/activities/course"
        assert course["definition"]["name"] == {"und": "AI at work"}  # the LMS's title: its language is unknown
        assert course["definition"]["extensions"][f"{BASE}/xapi/extensions/lti-context"] == {
            "issuer": "https://lms.example.edu", "deployment_id": "dep-1", "context_id": "ctx-42"}
        assert statement["object"]["objectType"] == "Activity", kind
        assert statement["context"]["platform"] == "Tinker", kind


def test_experiment_outcome_is_the_result():
    assert experiment(outcome="worked")["result"]["success"] is True
    assert experiment(outcome="failed")["result"]["success"] is False
    partly = experiment(outcome="partly")["result"]
    assert "success" not in partly
    assert partly["extensions"] == {f"{BASE}/xapi/extensions/outcome": "partly",
                                    f"{BASE}/xapi/extensions/minutes-saved": 15}
    # no estimate given: no figure, rather than a 0 an LRS would add up
    assert experiment(minutes_saved=None)["result"]["extensions"] == {f"{BASE}/xapi/extensions/outcome": "worked"}
    obj = experiment()["object"]
    assert obj["id"] == f"{BASE}/xapi/activities/experiments/9"
    assert obj["definition"]["type"] == f"{BASE}/xapi/activity-types/ai-experiment"
    assert obj["definition"]["extensions"] == {f"{BASE}/xapi/extensions/ai-tool": "ChatGPT",
                                               f"{BASE}/xapi/extensions/task-category": "Writing"}


def test_help_is_an_activity_and_names_the_helped_person_in_context():
    help_ = every_kind()["help"]
    assert help_["object"]["id"] == f"{BASE}/xapi/activities/peer-help/6"
    assert help_["object"]["definition"]["type"] == f"{BASE}/xapi/activity-types/peer-help"
    assert help_["context"]["extensions"] == {
        f"{BASE}/xapi/extensions/helped": {"objectType": "Agent",
                                           "account": {"homePage": "https://lms.example.edu", "name": "77"}},
        f"{BASE}/xapi/extensions/across-teams": True}


def test_badge_links_the_hosted_open_badges_class_and_assertion():
    badge = every_kind()["badge"]
    assert badge["object"]["id"] == BADGE.url
    assert badge["object"]["definition"]["name"] == {"und": "AI Champion"}  # the organisation's words
    assert badge["object"]["definition"]["extensions"][S.OB_BADGE_CLASS]["@id"] == BADGE.url
    assert badge["result"]["extensions"][S.OB_ASSERTION] == {"@id": BADGE.assertion_url}
    without = S.badge_earned(base=BASE, statement_uuid=SID, person=ANN, course=COURSE, at=AT,
                             badge=S.Badge(**{**BADGE.__dict__, "assertion_url": None, "description": ""}))
    assert "result" not in without and "description" not in without["object"]["definition"]
    assert problems(without) == []


def test_kudos_names_the_giver_as_instructor_and_carries_points():
    kudos = every_kind()["kudos"]
    assert kudos["context"]["instructor"] == S.agent(BOB)
    assert kudos["result"]["extensions"] == {f"{BASE}/xapi/extensions/points": 10,
                                             f"{BASE}/xapi/extensions/value": "Curiosity"}
    plain = S.kudos_received(base=BASE, statement_uuid=SID, receiver=ANN, giver=BOB, course=COURSE, kudos_id=5,
                             points=0, value=None, at=AT)
    assert plain["result"]["extensions"] == {f"{BASE}/xapi/extensions/points": 0}
    assert plain["object"]["definition"]["name"] == {"en": "Kudos"}


def test_revocation_voids_the_earlier_statement():
    original = every_kind()["kudos"]
    void = S.voided(statement_uuid=str(uuid.uuid4()), voided_id=original["id"], by=BOB, at=AT)
    assert void["verb"] == {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en": "voided"}}
    assert void["object"] == {"objectType": "StatementRef", "id": original["id"]}
    assert void["actor"] == S.agent(BOB) and "context" not in void
    assert problems(void) == []


def test_no_empty_values_when_the_lms_gives_no_course_title():
    untitled = S.Course(id=4, title="", issuer="https://lms.example.edu", deployment_id="d", context_id="c")
    statement = experiment(course=untitled, tool="", category="")
    assert "name" not in statement["context"]["contextActivities"]["grouping"][0]["definition"]
    assert problems(statement) == []


def test_tinker_iris_live_under_the_base_url_and_are_all_documented():
    assert S.iri(BASE + "/", "verbs/helped") == f"{BASE}/xapi/verbs/helped"
    with pytest.raises(KeyError):
        S.iri(BASE, "verbs/invented")
    doc = (Path(__file__).resolve().parents[2] / "docs" / "xapi.md").read_text()
    for term in S.TINKER_TERMS:
        assert f"/xapi/{term}" in doc, term
    for published in (S.ADL_ATTEMPTED, S.ADL_VOIDED, S.ADL_COURSE, S.EARNED, S.RECEIVED, S.BADGE_TYPE, S.OB_BADGE_CLASS,
                      S.OB_ASSERTION):
        assert published in doc, published


def test_the_spec_checker_catches_what_breaks_the_rules():
    """Guard for the guard: each break of xAPI 1.0.3 is reported."""
    good = experiment()
    broken = {
        "two identifiers": {**good, "actor": {**good["actor"], "mbox": "mailto:a@b.c"}},
        "verb not an IRI": {**good, "verb": {"id": "attempted", "display": {"en": "attempted"}}},
        "bad language tag": {**good, "verb": {"id": S.ADL_ATTEMPTED, "display": {"english!": "attempted"}}},
        "id not a UUID": {**good, "id": "experiment-9"},
        "timestamp without zone": {**good, "timestamp": "2025-03-03T09:00:00"},
        "empty value": {**good, "object": {**good["object"], "definition": {}}},
        "unknown property": {**good, "score": 3},
        "platform with an agent object": {**good, "object": S.agent(BOB), "context": {"platform": "Tinker"}},
        "success not boolean": {**good, "result": {"success": "yes"}},
        "homePage not a URL": {**good, "actor": {"account": {"homePage": "lms", "name": "x"}}},
        "voiding an activity": {**good, "verb": {"id": S.ADL_VOIDED, "display": {"en": "voided"}}},
        "StatementRef without a UUID": {**{k: v for k, v in good.items() if k != "context"},
                                        "object": {"objectType": "StatementRef", "id": "kudos-5"}},
    }
    for why, statement in broken.items():
        assert problems(statement), why
