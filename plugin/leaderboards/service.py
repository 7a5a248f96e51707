"""What a person may see of the boards, and the settings that decide it (per course, by its managers).

Modes: "on" (individual and team boards), "team_only" (learners see team boards, no individuals), "off"
(learners see no boards). Relative mode shows learners only their neighbours, never the top. Managers
always see the full boards of their course (opted-out people stay anonymous to them too).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from marshmallow import fields, validate
from sqlalchemy import bindparam, delete, or_, select

from plugin.audit.service import record
from plugin.core.actor import Actor
from plugin.core.db import insert_ignore, read
from plugin.core.memo import memoised, store
from plugin.core.schema import Schema
from plugin.errors import Forbidden, InvalidInput
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.identity.models import IdentityLink
from plugin.identity.people import LINKED_COUNT, board_holder, identities, remember_identities
from plugin.leaderboards import rebuild
from plugin.leaderboards.models import MODES, OFF, ON, TEAM_ONLY, BoardOptOut, BoardSetting
from plugin.leaderboards.periods import KINDS, WEEK, current_key, is_valid_key
from plugin.leaderboards.queries import (
    MIN_TEAM_SIZE,
    POINTS_PER_MEMBER,
    Board,
    Row,
    Scope,
    TeamRow,
    all_rows,
    board,
    team_board,
)
from plugin.ledger.models import TOTAL
from plugin.levels.service import dimension_names
from plugin.settings import service as org_settings
from plugin.tenancy.models import Course
from plugin.tenancy.service import change_standing_in_organisation


@dataclass(frozen=True)
class Settings:
    mode: str = ON
    relative: bool = False


class SettingsIn(Schema):
    mode = fields.String(required=True, validate=validate.OneOf(MODES, error=_l("Choose how learners see boards.")),
                         error_messages={"required": _l("Choose how learners see boards.")})
    relative = fields.Boolean(load_default=False)


def settings_of(course_id: int) -> Settings:
    """Read once per transaction (the page, its nav and its board all ask); a change in it is read back."""
    return memoised(db.session, _settings_key(course_id), lambda: _read_settings(course_id))


def _settings_key(course_id: int) -> tuple:
    return "board_settings", course_id


def _opted_out_key(actor: Actor) -> tuple:
    return "opted_out", actor.organisation_id, actor.user_id


# Built once: these run on every page (the nav asks), and building a statement costs more than running it.
_SETTINGS = select(BoardSetting.mode, BoardSetting.relative).where(BoardSetting.course_id == bindparam("course"))
_LINK, _OTHER = IdentityLink.__table__, IdentityLink.__table__.alias("other_link")
_OPTED_OUT = select(BoardOptOut.user_id).where(
    or_(BoardOptOut.user_id == bindparam("user"), BoardOptOut.user_id.in_(  # or any identity linked to them
        select(_OTHER.c.user_id).join(_LINK, _LINK.c.person_id == _OTHER.c.person_id).where(
            _LINK.c.user_id == bindparam("user")))),
    BoardOptOut.course_id.in_(select(Course.id).where(Course.organisation_id == bindparam("organisation")))).limit(1)


def remember_settings(course_id: int, mode: str | None, relative: bool | None) -> None:
    """The course's board settings as read by a caller's own statement (a page's one read of what it shows):
    settings_of asks no more in this transaction. None: the course never saved any."""
    store(db.session, _settings_key(course_id), Settings() if mode is None else Settings(mode, bool(relative)))


MODE_OF = select(BoardSetting.mode).where(BoardSetting.course_id == bindparam("course"))  # for such statements
RELATIVE_OF = select(BoardSetting.relative).where(BoardSetting.course_id == bindparam("course"))


def _read_settings(course_id: int) -> Settings:
    row = read(db.session, _SETTINGS, {"course": course_id}).first()
    return Settings(row.mode, row.relative) if row else Settings()


def update_settings(actor: Actor, data: dict, now: datetime) -> Settings:
    """Managers change how their course shows boards."""
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers change how boards are shown."))
    insert_ignore(db.session, BoardSetting.__table__, {"course_id": actor.course_id}, ["course_id"], returning=False)
    # Locked and read afresh: a second save at once (a double click, two managers) waits, then compares with what the
    # first saved, so the audit log records each change once (SQLite serialises writers already).
    row = db.session.get(BoardSetting, actor.course_id, with_for_update={"key_share": True}, populate_existing=True)
    before = Settings(row.mode, row.relative)
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
    return memoised(db.session, _opted_out_key(actor), lambda: db.session.execute(
        _OPTED_OUT, {"user": actor.user_id, "organisation": actor.organisation_id}).first() is not None)


def set_opt_out(actor: Actor, opted_out: bool, now: datetime) -> bool:
    """A person hides their name on the organisation's boards (they keep their rank and see it themselves)."""
    if opted_out:
        insert_ignore(db.session, BoardOptOut.__table__, {"course_id": actor.course_id, "user_id": actor.user_id,
                                                          "created_at": now}, ["course_id", "user_id"], returning=False)
    else:
        db.session.execute(delete(BoardOptOut).where(
            BoardOptOut.user_id.in_(identities(actor.user_id)),
            BoardOptOut.course_id.in_(_organisation_courses(actor.organisation_id))))
    return opted_out


def change_time_zone(actor: Actor, name: str, now: datetime) -> bool:
    """Admins set the organisation's time zone; its week and month boards are then recomputed. Awards take turns with
    the change on their people's membership rows (PostgreSQL): one in progress is in the ledger the rebuild reads, one
    that waited reads the new zone, so neither leaves its points in the old zone's week or month. The rows are taken
    before the settings row, and the organisation's row its write moves (the configuration version): an award holding
    its author's row takes a share of the organisation's row when it posts, so waiting for it while holding that row
    could deadlock behind an identity link queued for it."""
    if actor.can_administer:  # set_time_zone refuses anyone else
        change_standing_in_organisation(actor.organisation_id)
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
        raise InvalidInput(_("Unknown period."), errors={"period": [_("Use all, week, month or a key like 2026-W48.")]})
    return period


def individual_board(actor: Actor, scope_kind: str, period: str, dimension: str, now: datetime, *,
                     limit: int = 20, around: int = 2) -> Board:
    scope, key, dimension, viewer, relative = _individual(actor, scope_kind, period, dimension, now)
    return board(scope, key, dimension, viewer, limit=limit, around=around, relative=relative)


def individual_export(actor: Actor, scope_kind: str, period: str, dimension: str,
                      now: datetime) -> tuple[str, str, Iterator[Row]]:
    """(period key, dimension, every row of the board in order) for the managers' CSV: the whole board, read a
    page at a time, with names hidden as on the page."""
    scope, key, dimension, viewer, _relative = _individual(actor, scope_kind, period, dimension, now)
    return key, dimension, all_rows(scope, key, dimension, viewer)


def _individual(actor: Actor, scope_kind: str, period: str, dimension: str, now: datetime):
    view = view_of(actor)
    if view.settings.mode == OFF and not actor.can_manage:
        raise Forbidden(_("Leaderboards are turned off in this course."))
    if not view.individual:
        raise Forbidden(_("This course shows team boards only."))
    if scope_kind not in SCOPES:
        raise InvalidInput(_("Unknown board."), errors={"scope": [_("Use course or organisation.")]})
    check_dimension(dimension, dimension_names(actor.organisation_id))
    scope = Scope.course(actor.course_id) if scope_kind == "course" else Scope.organisation(actor.organisation_id)
    # On the organisation's board a person linked across LMSs is the row of their board holder.
    viewer = actor.user_id if scope_kind == "course" else board_holder(actor.user_id)
    return scope, period_key(actor, period, now), dimension or TOTAL, viewer, view.relative


def check_dimension(dimension: str, names: dict[str, str]) -> None:
    """An unknown dimension is said so (422), wherever a board is asked for: never an empty board."""
    if dimension and dimension != TOTAL and dimension not in names:
        raise InvalidInput(_("Unknown dimension."), errors={"dimension": [_("Choose total or one of the dimensions.")]})


TEAM_TOP = 20  # teams a team board shows before the viewer's own
@dataclass(frozen=True)
class TeamStanding:
    rows: list[TeamRow]  # the top `limit` teams (every ranked team when no limit)
    mine: list[TeamRow]  # the viewer's teams ranked below those, at their true ranks
    total: int           # teams ranked on this board
    limit: int           # the top a learner sees

    @property
    def cut(self) -> bool:
        """Whether the rows stop before the end of the board (the page says so)."""
        return len(self.rows) < self.total


def teams_board(actor: Actor, period: str, measure: str, now: datetime, *, limit: int = TEAM_TOP,
                full: bool = False) -> TeamStanding:
    """The top `limit` teams and the viewer's own teams below them, at the board's own ranks; managers may ask
    for every team (`full`)."""
    view = view_of(actor)
    if not view.teams:
        raise Forbidden(_("Leaderboards are turned off in this course."))
    everything = full and actor.can_manage
    ranked = team_board(actor.course_id, period_key(actor, period, now), measure, limit=None if everything else limit,
                        viewer_user_id=actor.user_id, min_members=1 if actor.can_manage else MIN_TEAM_SIZE)
    return TeamStanding(ranked.rows, ranked.mine, ranked.total, limit)


# --- the leaderboard page -------------------------------------------------------------------------------
PEOPLE, TEAMS = "people", "teams"

# What a board page asks of its settings, in one statement: the course's board settings, whether the viewer
# hid their name, the organisation's time zone, how many accounts the viewer's person has (bind params course,
# user, organisation, user_id).
_VIEWER = select(
    MODE_OF.scalar_subquery(),
    RELATIVE_OF.scalar_subquery(),
    _OPTED_OUT.exists(),
    org_settings.TIME_ZONE_OF.scalar_subquery(),
    LINKED_COUNT)


def _read_viewer(actor: Actor) -> None:
    """Read the page's settings at once; settings_of, is_opted_out, time_zone_name and (for a person linked to
    no other account) board_holder then answer from memory."""
    mode, relative, hidden, zone, linked = read(db.session, _VIEWER, {
        "course": actor.course_id, "user": actor.user_id, "organisation": actor.organisation_id,
        "user_id": actor.user_id}).one()
    remember_settings(actor.course_id, mode, relative)
    store(db.session, _opted_out_key(actor), bool(hidden))
    org_settings.remember_time_zone(actor.organisation_id, zone)
    remember_identities(actor.user_id, linked)


@dataclass(frozen=True)
class BoardPage:
    view: View
    tab: str                   # PEOPLE or TEAMS
    period: str                # the key of the period shown
    dimensions: dict[str, str]
    hidden: bool               # the viewer hid their name
    zone: str                  # the organisation's time zone
    board: Board | None = None
    teams: TeamStanding | None = None
    closed: str | None = None  # why the course's mode closes the board asked for (the page says so)


def board_page(actor: Actor, now: datetime, *, tab: str | None = None, scope: str = "course", period: str = WEEK,
               dimension: str = TOTAL, measure: str = POINTS_PER_MEMBER, full: bool = False) -> BoardPage:
    """Everything the leaderboard page shows: the individual board (tab PEOPLE) or the team board, and what the
    controls offer. Unknown periods and dimensions are InvalidInput; a board the course's mode closes is `closed`."""
    _read_viewer(actor)
    view, key = view_of(actor), period_key(actor, period, now)
    tab = tab or (PEOPLE if view.individual else TEAMS)
    names = dimension_names(actor.organisation_id)
    check_dimension(dimension, names)
    shown, teams, closed = None, None, None
    try:
        if tab == PEOPLE:
            shown = individual_board(actor, scope, period, dimension, now)
        else:
            teams = teams_board(actor, period, measure, now, full=full)
    except Forbidden as err:
        closed = err.message
    return BoardPage(view, tab, key, names, is_opted_out(actor), org_settings.time_zone_name(actor.organisation_id),
                     shown, teams, closed)
