"""Managing challenges: create, edit, cancel (managers of the course), and finding one a person may see.

Form times are the organisation's local wall-clock times; they are stored in UTC. The window is
[starts_at, ends_at). Whenever a window, team or the challenge itself changes, its points board is rebuilt
and its progress recounted, in the same transaction.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from plugin.audit.service import record
from plugin.badges.models import BadgeClass
from plugin.catalog.models import AiTool, TaskCategory
from plugin.challenges import progress
from plugin.challenges.datasets import PASTED_NAME, Dataset, check_dataset
from plugin.challenges.models import Challenge, ChallengeTool
from plugin.core.actor import Actor, Role
from plugin.core.names import tidy as tidy_name
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.leaderboards import reconcile
from plugin.settings.service import time_zone
from plugin.teams.models import Team, TeamMember
from plugin.tenancy.service import change_standing_in_course, role_in

# What a completed challenge keeps: its badges and completions were given against these.
LOCKED_WHEN_COMPLETE = ("goal_kind", "goal_value", "starts_at", "ends_at", "team_id", "task_category_id",
                        "ai_tool_id", "badge_id")
BOARD_FIELDS = ("starts_at", "ends_at", "team_id")
COUNTED_FIELDS = BOARD_FIELDS + ("task_category_id", "ai_tool_id", "goal_kind", "goal_value")


def zone(organisation_id: int) -> ZoneInfo:
    """The organisation's time zone (for form times and for showing times)."""
    return time_zone(organisation_id)


def to_utc(moment: datetime, tz: ZoneInfo) -> datetime:
    """A form's wall-clock time in the organisation's zone (naive), or an aware time, as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(timezone.utc)


# --- reading one ------------------------------------------------------------------------------------------
def get_challenge(actor: Actor, challenge_id: int) -> Challenge:
    """A challenge of the actor's course that they may see: team challenges show to the team and to staff, cancelled
    ones to staff only."""
    challenge = db.session.get(Challenge, challenge_id)
    if challenge is None or challenge.course_id != actor.course_id:
        raise NotFound(_("No such challenge in this course."))
    if not actor.can_manage and (challenge.cancelled_at is not None or challenge.team_id is not None and
                                 db.session.get(TeamMember, (challenge.team_id, actor.user_id)) is None):
        raise NotFound(_("No such challenge in this course."))  # as queries.visible lists them
    return challenge


def _managed(actor: Actor, challenge_id: int) -> Challenge:
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers manage challenges."))
    return get_challenge(actor, challenge_id)


# --- writing -----------------------------------------------------------------------------------------------
def _by_key(actor: Actor, submission_key: str | None) -> Challenge | None:
    if submission_key is None:
        return None
    return db.session.scalar(select(Challenge).where(Challenge.course_id == actor.course_id,
                                                     Challenge.created_by_id == actor.user_id,
                                                     Challenge.submission_key == submission_key))


def create_challenge(actor: Actor, data: dict, now: datetime, upload: tuple[str, bytes] | None = None,
                     submission_key: str | None = None) -> Challenge:
    """`data` is ChallengeIn-loaded; `upload` an attached data set (file name, bytes) for a mission. A repeated
    `submission_key` (the form sent twice) returns the challenge first created with it, unchanged."""
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers create challenges."))
    first = _by_key(actor, submission_key)
    if first is not None:
        return first
    fields, tools, dataset = _checked(actor, data, upload, None)
    # The course's people's rows first (as update_challenge): an experiment being saved commits first and the recount
    # below counts it; one starting meanwhile waits, then finds the challenge open and counts toward it itself.
    change_standing_in_course(actor.course_id)
    challenge = Challenge(organisation_id=actor.organisation_id, course_id=actor.course_id,
                          is_mission=bool(data.get("is_mission")), created_by_id=actor.user_id, created_at=now,
                          updated_at=now, progress_count=0, contributor_count=0, submission_key=submission_key,
                          **fields)
    if dataset is not None:
        challenge.dataset_name, challenge.dataset_type, challenge.dataset = dataset.name, dataset.content_type, dataset.content
    try:
        with db.session.begin_nested():  # a copy of the form sent meanwhile waits at the key's unique index, and loses
            db.session.add(challenge)
            db.session.flush()
    except IntegrityError:
        first = _by_key(actor, submission_key)
        if first is None:
            raise
        return first
    _set_tools(challenge, tools)
    progress.recount(challenge, now)  # experiments already logged inside a window that began earlier count
    reconcile.rebuild_challenge(challenge.id)
    record(actor, "challenge.created", "challenge", challenge.id,
           {"title": challenge.title, "mission": challenge.is_mission}, now)
    return challenge


def update_challenge(actor: Actor, challenge_id: int, data: dict, now: datetime,
                     upload: tuple[str, bytes] | None = None) -> Challenge:
    challenge = _managed(actor, challenge_id)
    if challenge.cancelled_at is not None:
        raise Conflict(_("This challenge was cancelled; it can no longer be changed."))
    fields, tools, dataset = _checked(actor, data, upload, challenge)
    changed = sorted(name for name, value in fields.items() if getattr(challenge, name) != value)
    if any(name in COUNTED_FIELDS for name in changed):
        # The course's people's rows before the challenge's row (the order an award takes them in: its author's row,
        # then the challenge's): an experiment counting toward it meanwhile commits first and is recounted, instead of
        # holding its contribution while it waits for the challenge's row this holds (a deadlock); one starting later
        # waits, then counts toward the challenge as it now is.
        change_standing_in_course(challenge.course_id)
        db.session.refresh(challenge)  # as it is once they have committed (completed by one of them, maybe)
        if challenge.cancelled_at is not None:  # cancelled by another manager meanwhile
            raise Conflict(_("This challenge was cancelled; it can no longer be changed."))
        changed = sorted(name for name, value in fields.items() if getattr(challenge, name) != value)
    if challenge.completed_at is not None:
        locked = [name for name in changed if name in LOCKED_WHEN_COMPLETE]
        if locked:
            raise InvalidInput(_("This challenge is complete: its goal, window, team, filters and badge stay as "
                                 "they were. You can still edit its texts."),
                               errors={_FORM_NAME.get(n, n): [_("Locked: the challenge is complete.")] for n in locked})
    for name, value in fields.items():
        setattr(challenge, name, value)
    if dataset is not None:
        challenge.dataset_name, challenge.dataset_type, challenge.dataset = dataset.name, dataset.content_type, dataset.content
        changed.append("dataset")
    elif data.get("remove_dataset") and challenge.dataset_name:
        challenge.dataset_name = challenge.dataset_type = challenge.dataset = None
        changed.append("dataset")
    challenge.updated_at = now
    db.session.flush()
    _set_tools(challenge, tools)
    if any(name in COUNTED_FIELDS for name in changed):
        progress.recount(challenge, now)
    if any(name in BOARD_FIELDS for name in changed):
        reconcile.rebuild_challenge(challenge.id)
    record(actor, "challenge.changed", "challenge", challenge.id, {"changed": changed}, now)
    return challenge


def cancel_challenge(actor: Actor, challenge_id: int, now: datetime) -> Challenge:
    """Cancelled challenges stop counting and leave the boards; what was already awarded stays."""
    challenge = _managed(actor, challenge_id)
    if challenge.cancelled_at is None:
        # The course's people's rows before the challenge's row, as create and update take them: an experiment being
        # saved commits first and the rebuild below clears its row too; one starting meanwhile waits, then reads the
        # open challenges again and finds this one gone (it put its points on the cancelled board).
        change_standing_in_course(challenge.course_id)
        db.session.refresh(challenge)
    if challenge.cancelled_at is None:
        challenge.cancelled_at = challenge.updated_at = now
        db.session.flush()
        reconcile.rebuild_challenge(challenge.id)
        record(actor, "challenge.cancelled", "challenge", challenge.id, {}, now)
    return challenge


# --- checks ------------------------------------------------------------------------------------------------
_FORM_NAME = {"team_id": "team", "task_category_id": "task_category", "ai_tool_id": "ai_tool", "badge_id": "badge",
              "champion_id": "champion"}


def _checked(actor: Actor, data: dict, upload, current: Challenge | None) -> tuple[dict, list[int], Dataset | None]:
    errors: dict[str, list[str]] = {}
    org = actor.organisation_id
    tz = zone(org)
    mission = current.is_mission if current is not None else bool(data.get("is_mission"))

    def owned(model, key: str, message: str, active_only: bool = True):
        item_id = data.get(key)
        if item_id is None:
            return None
        item = db.session.get(model, item_id)
        keep = current is not None and getattr(current, f"{key}_id", None) == item_id  # unchanged: may be retired
        if item is None or item.organisation_id != org or (active_only and not item.active and not keep):
            errors[key] = [message]
        return item_id

    team_id = data.get("team")
    if team_id is not None and db.session.scalar(select(Team.id).where(
            Team.id == team_id, Team.course_id == actor.course_id)) is None:
        errors["team"] = [_("Choose one of this course's teams.")]
    title = tidy_name(data["title"])  # checked again as stored: "   " or control characters make no title
    if len(title) < 3:
        errors["title"] = [_("Give the challenge a title of 3 to 200 characters.")]
    fields = {
        "title": title, "description": (data.get("description") or "").strip(),
        "goal_kind": data["goal_kind"], "goal_value": data["goal_value"],
        "starts_at": to_utc(data["starts_at"], tz), "ends_at": to_utc(data["ends_at"], tz), "team_id": team_id,
        "task_category_id": owned(TaskCategory, "task_category", _("Choose a task category from the list.")),
        "ai_tool_id": owned(AiTool, "ai_tool", _("Choose an AI tool from the list.")),
        "badge_id": owned(BadgeClass, "badge", _("Choose one of the organisation's badges managers award.")),
    }
    # A challenge's badge is given by a manager's decision, as a manual award is: only a badge meant for that (a
    # rule's badge has its own criteria, which the challenge would skip).
    badge_id = fields["badge_id"]
    if badge_id is not None and "badge" not in errors and not (
            (current is not None and current.badge_id == badge_id) or db.session.get(BadgeClass, badge_id).manual):
        errors["badge"] = [_("Choose one of the organisation's badges managers award.")]
    if fields["ends_at"] <= fields["starts_at"]:  # e.g. both inside the hour a clock change repeats
        errors["ends_at"] = [_("The end must come after the start.")]
    tools: list[int] = []
    dataset = None
    if mission:
        fields["scenario"] = (data.get("scenario") or "").strip()
        fields["reflection_prompt"] = (data.get("reflection_prompt") or "").strip()
        champion = data.get("champion")
        if champion is not None and role_in(actor.course_id, champion) is not Role.LEARNER:
            errors["champion"] = [_("The AI champion must be a learner of this course.")]
        fields["champion_id"] = champion
        tools = sorted(set(data.get("tools") or []))
        known = set(db.session.scalars(select(AiTool.id).where(AiTool.organisation_id == org, AiTool.id.in_(tools))))
        if set(tools) - known:
            errors["tools"] = [_("Choose approved tools from the organisation's list.")]
        try:
            if upload is not None and upload[1]:
                dataset = check_dataset(upload[0], upload[1])
            elif (data.get("dataset_text") or "").strip():
                dataset = check_dataset(PASTED_NAME, data["dataset_text"].encode("utf-8"), "dataset_text")
        except InvalidInput as err:
            errors.update(err.errors)
        if not (fields["scenario"] or dataset or (current is not None and current.dataset_name)):
            errors["scenario"] = [_("Describe a practice scenario or attach a synthetic data set.")]
    else:
        errors.update(_mission_only(data, upload))
    if errors:
        raise InvalidInput(_("The challenge needs some changes."), errors=errors)
    return fields, tools, dataset


def _mission_only_messages() -> dict[str, str]:
    return {
        "scenario": _("Only sandbox missions have a practice scenario: make it a sandbox mission, or leave this empty."),
        "reflection_prompt": _("Only sandbox missions have a reflection prompt: make it a sandbox mission, or leave "
                               "this empty."),
        "tools": _("Only sandbox missions have approved tools: make it a sandbox mission, or leave this empty."),
        "champion": _("Only sandbox missions have an AI champion: make it a sandbox mission, or leave this empty."),
        "dataset_text": _("Only sandbox missions have a data set: make it a sandbox mission, or leave this empty."),
    }


def _mission_only(data: dict, upload) -> dict[str, list[str]]:
    """Mission details sent for a challenge that is no mission: refused, never silently dropped."""
    errors = {key: [message] for key, message in _mission_only_messages().items()
              if (data.get(key).strip() if isinstance(data.get(key), str) else data.get(key))}
    if upload is not None and upload[1]:
        errors["dataset"] = [_("Only sandbox missions carry a data set.")]
    return errors


def _set_tools(challenge: Challenge, tools: list[int]) -> None:
    if not challenge.is_mission:
        return
    db.session.execute(delete(ChallengeTool).where(ChallengeTool.challenge_id == challenge.id))
    db.session.add_all([ChallengeTool(challenge_id=challenge.id, ai_tool_id=t) for t in tools])
    db.session.flush()
