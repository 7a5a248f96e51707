"""Pure builders of xAPI 1.0.3 statements: no database, no clock, no network.

Verbs and activity types come from published vocabularies where one fits (ADL, Activity Streams via the
xAPI registry, the Open Badges xAPI vocabulary); the rest are Tinker's own IRIs under the tool's base URL,
listed in TINKER_TERMS, documented in docs/xapi.md and served at those IRIs (plugin/web/xapi.py).

Every statement carries its own `id` (a UUID derived from the delivery's key, so re-sending it can never
make a second statement) and its `timestamp` (when the fact happened, not when it was sent). No free text
that people typed (experiment notes, kudos messages, help descriptions) ever leaves Tinker.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

VERSION = "1.0.3"
LANG = "en"  # Tinker's own words (verbs, activity names it writes): English, never translated
UND = "und"  # RFC 5646 "undetermined": text the LMS or the organisation wrote, in a language Tinker does not know
PLATFORM = "Tinker"

# Published vocabularies
ADL_ATTEMPTED = "http://adlnet.gov/expapi/verbs/attempted"
ADL_COURSE = "http://adlnet.gov/expapi/activities/course"
ADL_VOIDED = "http://adlnet.gov/expapi/verbs/voided"
EARNED = "http://id.tincanapi.com/verb/earned"
RECEIVED = "http://activitystrea.ms/schema/1.0/receive"
BADGE_TYPE = "http://activitystrea.ms/schema/1.0/badge"
OB_BADGE_CLASS = "http://specification.openbadges.org/xapi/extensions/badgeclass"
OB_ASSERTION = "http://specification.openbadges.org/xapi/extensions/badgeassertion"

# Tinker's own terms: path under {base}/xapi/ -> (display, description). Served as JSON at their IRIs.
TINKER_TERMS: dict[str, tuple[str, str]] = {
    "verbs/helped": ("helped", "The actor helped a colleague at work with AI (the object: that peer help); "
                               "the helped person confirmed it in Tinker."),
    "verbs/tested-connection": ("tested the connection to", "An administrator asked Tinker to send a test "
                                                            "statement to the organisation's LRS."),
    "activity-types/ai-experiment": ("AI experiment", "A try of an AI tool on a real task, logged in Tinker "
                                                      "with its outcome."),
    "activity-types/peer-help": ("Peer help", "One confirmed occasion of a person helping a colleague with AI."),
    "activity-types/kudos": ("Kudos", "Recognition a manager gave a person in Tinker, optionally with points."),
    "activity-types/lrs-connection": ("LRS connection", "Tinker's connection to an organisation's LRS."),
    "extensions/ai-tool": ("AI tool", "The AI tool tried: a name from the organisation's list, or Other."),
    "extensions/task-category": ("Task category", "The kind of work the AI was tried on (organisation's list)."),
    "extensions/outcome": ("Outcome", "worked, partly or failed."),
    "extensions/minutes-saved": ("Minutes saved", "The person's estimate of the time the try saved (integer); "
                                 "absent when they gave none."),
    "extensions/points": ("Points", "Points that came with the recognition (integer, 0 for none)."),
    "extensions/value": ("Value", "The organisation value the recognition names."),
    "extensions/helped": ("Helped person", "The Agent who was helped (named as actors are)."),
    "extensions/across-teams": ("Across teams", "true when helper and helped person belong to different teams."),
    "extensions/lti-context": ("LTI context", "The LMS course the statement happened in: issuer, deployment "
                                              "and context id, as LTI 1.3 names them."),
}


def iri(base: str, term: str) -> str:
    if term not in TINKER_TERMS:
        raise KeyError(f"not a Tinker xAPI term: {term}")
    return f"{base.rstrip('/')}/xapi/{term}"


def statement_id(scope: str, key: str) -> str:
    """The statement's UUID (version 5): the same fact (`key`) in the same `scope` always gives the same id.
    The scope names the Tinker installation and organisation (base URL, organisation id and creation time),
    so a database started afresh behind the same URL never reuses the ids of statements already sent."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}/xapi/statements/{key}"))


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as xAPI stores it."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Person:
    """Someone as their LMS knows them. `email`/`name` are only used when the admin opted in."""

    issuer: str
    sub: str
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Course:
    id: int
    title: str  # as the LMS names the course: its language is not known (UND)
    issuer: str
    deployment_id: str
    context_id: str


def agent(person: Person, send_email: bool = False) -> dict:
    """An Agent with exactly one identifier: the LMS account (homePage = platform issuer, name = LTI sub),
    or the mailbox when the organisation opted in and the LMS shared an address."""
    if send_email and person.email:
        found = {"objectType": "Agent", "mbox": f"mailto:{person.email}"}
        if person.name:
            found["name"] = person.name
        return found
    return {"objectType": "Agent", "account": {"homePage": person.issuer, "name": person.sub}}


def _lang(text: str | None, tag: str = LANG) -> dict | None:
    """A language map: its key must be the language the text is in (xAPI Data 5.2.1: an RFC 5646 tag)."""
    text = (text or "").strip()
    return {tag: text} if text else None


def _activity(activity_id: str, type_: str, name: str | None = None, description: str | None = None,
              extensions: dict | None = None, tag: str = LANG) -> dict:
    definition: dict = {"type": type_}
    if _lang(name):
        definition["name"] = _lang(name, tag)
    if _lang(description):
        definition["description"] = _lang(description, tag)
    if extensions:
        definition["extensions"] = extensions
    return {"objectType": "Activity", "id": activity_id, "definition": definition}


def course_activity(base: str, course: Course) -> dict:
    return _activity(f"{base.rstrip('/')}/xapi/activities/courses/{course.id}", ADL_COURSE, course.title, tag=UND,
                     extensions={iri(base, "extensions/lti-context"): {
                         "issuer": course.issuer, "deployment_id": course.deployment_id,
                         "context_id": course.context_id}})


def _verb(verb_id: str, display: str) -> dict:
    return {"id": verb_id, "display": {LANG: display}}


def _statement(*, base: str, statement_uuid: str, at: datetime, actor: dict, verb: dict, obj: dict, course: Course | None,
               result: dict | None = None, context: dict | None = None) -> dict:
    statement = {"id": statement_uuid, "timestamp": timestamp(at), "actor": actor, "verb": verb,
                 "object": obj}
    if result:
        statement["result"] = result
    context = dict(context or {})
    if obj.get("objectType", "Activity") == "Activity":  # platform is only allowed with an Activity object
        context["platform"] = PLATFORM
    if course is not None:
        context["contextActivities"] = {"grouping": [course_activity(base, course)]}
    if context:
        statement["context"] = context
    return statement


OUTCOME_SUCCESS = {"worked": True, "failed": False}  # "partly": neither


def experiment_logged(*, base: str, statement_uuid: str, person: Person, course: Course, experiment_id: int, tool: str,
                      category: str, outcome: str, minutes_saved: int | None, at: datetime,
                      send_email: bool = False, category_lang: str = UND) -> dict:
    """<person> attempted <an AI experiment> — ADL `attempted`, with the outcome as the result. The name is
    English only while the category's name is (`category_lang`: a seeded name, not renamed); tools are brands."""
    name = f"AI experiment: {tool} for {category}" if tool and category else "AI experiment"
    result: dict = {"extensions": {iri(base, "extensions/outcome"): outcome}}
    if minutes_saved is not None:  # not estimated: no figure, rather than a zero an LRS would add up
        result["extensions"][iri(base, "extensions/minutes-saved")] = int(minutes_saved)
    if outcome in OUTCOME_SUCCESS:
        result["success"] = OUTCOME_SUCCESS[outcome]
    extensions = {iri(base, "extensions/ai-tool"): tool} if tool else {}
    if category:
        extensions[iri(base, "extensions/task-category")] = category
    obj = _activity(f"{base.rstrip('/')}/xapi/activities/experiments/{experiment_id}",
                    iri(base, "activity-types/ai-experiment"), name, extensions=extensions or None,
                    tag=category_lang if category else LANG)
    return _statement(base=base, statement_uuid=statement_uuid, at=at, actor=agent(person, send_email),
                      verb=_verb(ADL_ATTEMPTED, "attempted"), obj=obj, course=course, result=result)


def help_confirmed(*, base: str, statement_uuid: str, helper: Person, helped: Person, course: Course, help_id: int,
                   across_teams: bool, at: datetime, send_email: bool = False) -> dict:
    """<helper> helped <a peer help> — a Tinker verb. The object is the help as an Activity (LRSs such as
    Ralph accept Activity objects only); the helped person, who confirmed it, is a context extension."""
    obj = _activity(f"{base.rstrip('/')}/xapi/activities/peer-help/{help_id}", iri(base, "activity-types/peer-help"),
                    "Peer help")
    return _statement(base=base, statement_uuid=statement_uuid, at=at, actor=agent(helper, send_email),
                      verb=_verb(iri(base, "verbs/helped"), "helped"), obj=obj, course=course,
                      context={"extensions": {iri(base, "extensions/helped"): agent(helped, send_email),
                                              iri(base, "extensions/across-teams"): across_teams}})


@dataclass(frozen=True)
class Badge:
    url: str  # the hosted Open Badges BadgeClass
    name: str
    description: str
    image_url: str
    issuer_url: str
    assertion_url: str | None  # the hosted Assertion, when the award has one
    lang: str = UND  # of name and description: the organisation's words (LANG for a seeded badge never renamed)


def badge_earned(*, base: str, statement_uuid: str, person: Person, course: Course, badge: Badge, at: datetime,
                 send_email: bool = False) -> dict:
    """<person> earned <badge> — the registry's `earned`, the Activity Streams badge type and the Open
    Badges xAPI extensions linking to the hosted BadgeClass and Assertion."""
    obj = _activity(badge.url, BADGE_TYPE, badge.name, badge.description, extensions={OB_BADGE_CLASS: {
        "@id": badge.url, "image": badge.image_url, "issuer": badge.issuer_url}}, tag=badge.lang)
    result = {"extensions": {OB_ASSERTION: {"@id": badge.assertion_url}}} if badge.assertion_url else None
    return _statement(base=base, statement_uuid=statement_uuid, at=at, actor=agent(person, send_email), verb=_verb(EARNED, "earned"),
                      obj=obj, course=course, result=result)


def kudos_received(*, base: str, statement_uuid: str, receiver: Person, giver: Person, course: Course, kudos_id: int,
                   points: int, value: str | None, at: datetime, send_email: bool = False,
                   value_lang: str = UND) -> dict:
    """<receiver> received <kudos> — Activity Streams `receive`; the manager who gave it is the instructor."""
    extensions = {iri(base, "extensions/points"): int(points or 0)}
    if value:
        extensions[iri(base, "extensions/value")] = value
    obj = _activity(f"{base.rstrip('/')}/xapi/activities/kudos/{kudos_id}", iri(base, "activity-types/kudos"),
                    f"Kudos for {value}" if value else "Kudos", tag=value_lang if value else LANG)
    return _statement(base=base, statement_uuid=statement_uuid, at=at, actor=agent(receiver, send_email), verb=_verb(RECEIVED, "received"),
                      obj=obj, course=course, result={"extensions": extensions},
                      context={"instructor": agent(giver, send_email)})


def connection_test(*, base: str, statement_uuid: str, person: Person, course: Course | None, at: datetime,
                    send_email: bool = False) -> dict:
    """<admin> tested the connection to <the LRS connection>: what the admin page's test button sends."""
    obj = _activity(f"{base.rstrip('/')}/xapi/activities/lrs-connection", iri(base, "activity-types/lrs-connection"),
                    "Tinker's connection to the LRS")
    return _statement(base=base, statement_uuid=statement_uuid, at=at, actor=agent(person, send_email),
                      verb=_verb(iri(base, "verbs/tested-connection"), "tested the connection to"), obj=obj,
                      course=course)


def voided(*, statement_uuid: str, voided_id: str, by: Person, at: datetime, send_email: bool = False) -> dict:
    """<manager> voided <statement>: xAPI's own way (Data 2.3.2) to say an earlier statement no longer
    stands: sent when kudos or a badge are revoked. A voiding statement has a StatementRef object and no
    other context."""
    return {"id": statement_uuid, "timestamp": timestamp(at), "actor": agent(by, send_email),
            "verb": _verb(ADL_VOIDED, "voided"), "object": {"objectType": "StatementRef", "id": voided_id}}
