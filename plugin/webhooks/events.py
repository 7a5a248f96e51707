"""The events webhooks carry, enqueued in the fact's own transaction (nothing is sent for a fact that rolled
back) once per subscribed endpoint of the organisation.

A body is built when its fact happens and stored whole in the outbox payload with its message id: a retry or
a re-send carries exactly the same bytes and the same `webhook-id`. Bodies carry ids and names a receiver
needs to act (person, course, badge, challenge, team), never text people typed (comments, messages,
experiment notes or titles).
"""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone

from sqlalchemy import bindparam, select

from plugin.extensions import db
from plugin.outbox.service import enqueue
from plugin.tenancy import config_cache
from plugin.tenancy.models import Course, User
from plugin.webhooks.models import WebhookEndpoint
from plugin.webhooks.service import KIND

_ACTIVE = select(WebhookEndpoint.id, WebhookEndpoint.events).where(
    WebhookEndpoint.organisation_id == bindparam("organisation_id"), WebhookEndpoint.active.is_(True))


def _subscribed(organisation_id: int, event: str) -> list[int]:
    # The active endpoints are kept across transactions under the configuration version (config_cache).
    rows = config_cache.cached(organisation_id, "webhook_endpoints", ("webhook_endpoint",), lambda: tuple(
        (endpoint_id, tuple(events or ())) for endpoint_id, events in db.session.execute(
            _ACTIVE, {"organisation_id": organisation_id})))
    return [endpoint_id for endpoint_id, events in rows if event in events]


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _person(user_id: int | None) -> dict | None:
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    if user is None:
        return {"id": user_id, "name": None, "lms_user_id": None}
    return {"id": user.id, "name": None if user.erased_at else user.display_name,
            "lms_user_id": None if user.erased_at else user.sub}


def _course(course_id: int) -> dict:
    course = db.session.get(Course, course_id)
    return {"id": course.id, "title": course.title, "label": course.label}


def _emit(organisation_id: int, course_id: int, event: str, fact_key: str, at: datetime, now: datetime,
          build, targets: list[int] | None = None) -> None:
    targets = _subscribed(organisation_id, event) if targets is None else targets
    if not targets:
        return  # first: nothing is read or built when no endpoint listens
    message_id = "msg_" + secrets.token_urlsafe(18)
    body = json.dumps({"type": event, "timestamp": _iso(at),
                       "data": {"organisation_id": organisation_id, "course": _course(course_id), **build()}},
                      separators=(",", ":"), sort_keys=True)
    for endpoint_id in targets:
        enqueue(KIND, f"webhook:{endpoint_id}:{fact_key}", {"endpoint_id": endpoint_id, "event": event,
                                                             "organisation_id": organisation_id,
                                                             "message_id": message_id, "body": body},
                now, course_id=course_id, lane=f"webhook:{endpoint_id}")


def _award(award) -> dict:
    """What badge.earned and badge.revoked both say about an award."""
    from plugin.badges.models import BadgeClass

    badge = db.session.get(BadgeClass, award.badge_id)
    return {"award_id": award.id, "badge": {"id": badge.id, "slug": badge.slug, "name": badge.name},
            "user": _person(award.user_id), "awarded_at": _iso(award.awarded_at),
            "rule_id": award.rule_id, "challenge_id": award.source_id if award.source_type == "challenge" else None}


def badge_earned(award_id: int, organisation_id: int, now: datetime) -> None:
    from plugin.badges.models import BadgeAward

    targets = _subscribed(organisation_id, "badge.earned")
    if targets:  # the award is read only when an endpoint listens
        award = db.session.get(BadgeAward, award_id)
        _emit(organisation_id, award.course_id, "badge.earned", f"badge:{award_id}", award.awarded_at, now,
              lambda: _award(award), targets)


def badge_revoked(award_id: int, organisation_id: int, now: datetime) -> None:
    """An award was taken back: "revoked" by a manager's decision, or "unearned" because what earned it was taken
    back (the kudos behind it revoked). Called once, by whoever marked it revoked (a second revocation of the same
    award changes nothing and calls nothing). The reason the manager typed is their text: it stays in Tinker."""
    from plugin.badges.models import BadgeAward

    targets = _subscribed(organisation_id, "badge.revoked")
    if targets:
        award = db.session.get(BadgeAward, award_id)
        _emit(organisation_id, award.course_id, "badge.revoked", f"badge-revoked:{award_id}", award.revoked_at, now,
              lambda: {**_award(award), "revoked_at": _iso(award.revoked_at),
                       "reason": "unearned" if award.unearned else "revoked"}, targets)


def challenge_completed(challenge, contributor_ids: list[int], now: datetime) -> None:
    from plugin.teams.models import Team

    def build() -> dict:
        team = db.session.get(Team, challenge.team_id) if challenge.team_id else None
        return {"challenge": {"id": challenge.id, "title": challenge.title, "mission": challenge.is_mission,
                              "goal_kind": challenge.goal_kind, "goal_value": challenge.goal_value,
                              "badge_id": challenge.badge_id},
                "team": {"id": team.id, "name": team.name} if team else None,
                "completed_at": _iso(challenge.completed_at or now),
                "contributors": [_person(user_id) for user_id in contributor_ids]}

    _emit(challenge.organisation_id, challenge.course_id, "challenge.completed", f"challenge:{challenge.id}",
          challenge.completed_at or now, now, build)


def kudos_received(kudos, now: datetime) -> None:
    from plugin.catalog.models import ValueTag

    def build() -> dict:
        tag = db.session.get(ValueTag, kudos.value_tag_id) if kudos.value_tag_id else None
        return {"kudos_id": kudos.id, "receiver": _person(kudos.receiver_id), "giver": _person(kudos.giver_id),
                "points": kudos.points, "value": {"id": tag.id, "name": tag.name} if tag else None}

    _emit(kudos.organisation_id, kudos.course_id, "kudos.received", f"kudos:{kudos.id}", kudos.created_at, now, build)


def kudos_revoked(kudos, now: datetime) -> None:
    """A manager revoked kudos: `points` are the kudos' own, taken back (what rules gave for it is settled with it,
    and a badge that goes sends badge.revoked). The reason typed stays in Tinker, as the message does."""
    def build() -> dict:
        return {"kudos_id": kudos.id, "receiver": _person(kudos.receiver_id), "giver": _person(kudos.giver_id),
                "points": kudos.points, "revoked_at": _iso(kudos.revoked_at)}

    _emit(kudos.organisation_id, kudos.course_id, "kudos.revoked", f"kudos-revoked:{kudos.id}", kudos.revoked_at, now,
          build)


def experiment_logged(experiment, now: datetime) -> None:
    from plugin.catalog.models import AiTool, TaskCategory
    from plugin.experiments.models import Visibility

    def build() -> dict:
        tool = db.session.get(AiTool, experiment.ai_tool_id) if experiment.ai_tool_id else None
        category = db.session.get(TaskCategory, experiment.task_category_id)
        return {"experiment_id": experiment.id,
                # Staff pages never name the author of an anonymous or private entry; neither does this.
                "user": None if experiment.anonymous or experiment.visibility == Visibility.PRIVATE.value
                else _person(experiment.user_id),
                "tool": {"id": tool.id, "name": tool.name} if tool else None,
                "category": {"id": category.id, "name": category.name} if category else None,
                "outcome": experiment.outcome, "minutes_saved": experiment.minutes_saved,
                "visibility": experiment.visibility}

    _emit(experiment.organisation_id, experiment.course_id, "experiment.logged", f"experiment:{experiment.id}",
          experiment.created_at, now, build)
