"""What a person may see of the boards, and the settings that decide it (per course, by its managers).

Modes: "on" (individual and team boards), "team_only" (learners see team boards, no individuals), "off"
(learners see no boards). Relative mode shows learners only their neighbours, never the top. Managers
always see the full boards of their course (opted-out people stay anonymous to them too).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from marshmallow import Schema, fields, validate
from sqlalchemy import delete, select

from plugin.audit.service import record
from plugin.core.actor import Actor
from plugin.core.db import insert_ignore
from plugin.errors import Forbidden, InvalidInput
from plugin.extensions import db
from plugin.leaderboards import rebuild
from plugin.leaderboards.models import MODES, OFF, ON, TEAM_ONLY, BoardOptOut, BoardSetting
from plugin.leaderboards.periods import KINDS, current_key, is_valid_key
from plugin.leaderboards.queries import MIN_TEAM_SIZE, Board, Scope, TeamRow, board, team_board
from plugin.ledger.models import TOTAL
from plugin.settings import service as org_settings
from plugin.teams.service import teams_of
from plugin.tenancy.models import Course


@dataclass(frozen=True)
class Settings:
    mode: str = ON
    relative: bool = False


class SettingsIn(Schema):
    mode = fields.String(required=True, validate=validate.OneOf(MODES, error="Choose how learners see boards."),
                         error_messages={"required": "Choose how learners see boards."})
    relative = fields.Boolean(load_default=False)


def settings_of(course_id: int) -> Settings:
    row = db.session.get(BoardSetting, course_id)
    return Settings(row.mode, row.relative) if row else Settings()


def update_settings(actor: Actor, data: dict, now: datetime) -> Settings:
    """Managers change how their course shows boards."""
    if not actor.can_manage:
        raise Forbidden("Only the course's managers change how boards are shown.")
    before = settings_of(actor.course_id)
    insert_ignore(db.session, BoardSetting.__table__, {"course_id": actor.course_id}, ["course_id"], returning=False)
    row = db.session.get(BoardSetting, actor.course_id)
    row.mode, row.relative, row.updated_at = data["mode"], bool(data["relative"]), now
    db.session.flush()
    after = settings_of(actor.course_id)
    changed = {k: [getattr(before, k), getattr(after, k)] for k in Settings.__dataclass_fields__
               if getattr(before, k) != getattr(after, k)}
    if changed:
        record(actor, "boards.settings_changed", "course", actor.course_id, changed, now)
    return after


def _organisation_courses(organisation_id: int):
    return select(Course.id).where(Course.organisation_id == organisation_id)


def is_opted_out(actor: Actor) -> bool:
    """Whether the person hid their name; the choice holds in every course of the organisation."""
    return db.session.execute(select(BoardOptOut.user_id).where(
        BoardOptOut.user_id == actor.user_id,
        BoardOptOut.course_id.in_(_organisation_courses(actor.organisation_id))).limit(1)).first() is not None


def set_opt_out(actor: Actor, opted_out: bool, now: datetime) -> bool:
    """A person hides their name on the organisation's boards (they keep their rank and see it themselves)."""
    if opted_out:
        insert_ignore(db.session, BoardOptOut.__table__, {"course_id": actor.course_id, "user_id": actor.user_id,
                                                          "created_at": now}, ["course_id", "user_id"], returning=False)
    else:
        db.session.execute(delete(BoardOptOut).where(
            BoardOptOut.user_id == actor.user_id,
            BoardOptOut.course_id.in_(_organisation_courses(actor.organisation_id))))
    return opted_out


def change_time_zone(actor: Actor, name: str, now: datetime) -> bool:
    """Admins set the organisation's time zone; its week and month boards are then recomputed."""
    changed = org_settings.set_time_zone(actor, name, now)
    if changed:
        rebuild.rebuild(actor.organisation_id)
    return changed


# --- what a viewer may see -----------------------------------------------------------------------------
SCOPES = ("course", "organisation")


@dataclass(frozen=True)
class View:
    settings: Settings
    individual: bool  # individual boards visible to this viewer
    teams: bool       # team boards visible
    relative: bool


def view_of(actor: Actor) -> View:
    s = settings_of(actor.course_id)
    if actor.can_manage:
        return View(s, True, True, False)
    return View(s, s.mode == ON, s.mode in (ON, TEAM_ONLY), s.relative)


def period_key(actor: Actor, period: str, now: datetime) -> str:
    """A period kind ("all", "week", "month") is turned into the current key; a key is checked."""
    if period in KINDS:
        return current_key(period, now, org_settings.time_zone(actor.organisation_id))
    if not is_valid_key(period):
        raise InvalidInput("Unknown period.", errors={"period": ["Use all, week, month or a key like 2026-W48."]})
    return period


def individual_board(actor: Actor, scope_kind: str, period: str, dimension: str, now: datetime, *,
                     limit: int = 20, around: int = 2) -> Board:
    view = view_of(actor)
    if view.settings.mode == OFF and not actor.can_manage:
        raise Forbidden("Leaderboards are turned off in this course.")
    if not view.individual:
        raise Forbidden("This course shows team boards only.")
    if scope_kind not in SCOPES:
        raise InvalidInput("Unknown board.", errors={"scope": ["Use course or organisation."]})
    scope = Scope.course(actor.course_id) if scope_kind == "course" else Scope.organisation(actor.organisation_id)
    return board(scope, period_key(actor, period, now), dimension or TOTAL, actor.user_id, limit=limit,
                 around=around, relative=view.relative)


def teams_board(actor: Actor, period: str, measure: str, now: datetime) -> list[TeamRow]:
    view = view_of(actor)
    if not view.teams:
        raise Forbidden("Leaderboards are turned off in this course.")
    mine = {t.id for t in teams_of(actor.course_id, actor.user_id)}
    return team_board(actor.course_id, period_key(actor, period, now), measure, my_team_ids=mine,
                      min_members=1 if actor.can_manage else MIN_TEAM_SIZE)

