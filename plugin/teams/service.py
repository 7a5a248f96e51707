"""Teams in a course: made by its managers here, or mirrored from LMS groups by roster sync.

A learner may be in several teams. Every change of a team's members (or the team itself) recomputes the
team's figures in the same transaction (reconcile.team_members_changed), and the boards and progress of the
team's challenges, whose rebuilt form depends on who is in the team now. Teams mirrored from the LMS are read-only
here: roster sync owns their names and members.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from plugin.audit.models import AuditEvent
from plugin.audit.service import record
from plugin.challenges import progress as challenge_progress
from plugin.challenges.models import Challenge
from plugin.core import text_fold
from plugin.core.actor import Actor, Role
from plugin.core.db import insert_ignore
from plugin.core.names import tidy as tidy_name
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext as _l
from plugin.leaderboards import reconcile, standings
from plugin.leaderboards.models import TeamStat
from plugin.leaderboards.periods import ALL
from plugin.teams.models import Team, TeamMember
from plugin.teams.names import lms_group_name
from plugin.tenancy.models import ACTIVE, Course, Membership, User, counted_membership
from plugin.tenancy.service import change_standing


def ensure_team(course_id: int, name: str, now: datetime) -> Team:
    insert_ignore(db.session, Team.__table__, {"course_id": course_id, "name": name, "created_at": now},
                  ["course_id", "name"])
    return db.session.scalar(select(Team).where(Team.course_id == course_id, Team.name == name))


def add_member(team: Team, user_id: int) -> None:
    """Low level (seed data, tests): the caller recomputes the team's figures. Managers use add_members."""
    if db.session.get(TeamMember, (team.id, user_id)) is None:
        db.session.add(TeamMember(team_id=team.id, user_id=user_id))
        db.session.flush()


def teams_of(course_id: int, user_id: int) -> list[Team]:
    return list(db.session.scalars(select(Team).join(TeamMember, TeamMember.team_id == Team.id).where(
        Team.course_id == course_id, TeamMember.user_id == user_id).order_by(Team.name)))


def teammate_ids_subquery(course_id: int, user_id: int):
    """Users sharing at least one team with user_id in course_id (a subquery for IN filters)."""
    mine = select(TeamMember.team_id).join(Team, Team.id == TeamMember.team_id).where(
        Team.course_id == course_id, TeamMember.user_id == user_id)
    return select(TeamMember.user_id).where(TeamMember.team_id.in_(mine))


@dataclass
class TeamCounts:
    teams: int = 0
    created: int = 0
    joined: int = 0
    left: int = 0


def sync_lms_teams(course_id: int, groups: dict[str, str], members: dict[str, set[int]], now: datetime) -> TeamCounts:
    """Mirror LMS groups (external id -> name; external id -> user ids) as teams of the course.

    Only teams that carry an external id are changed: a manager's own teams are never touched. A group the
    LMS no longer lists keeps its team (history refers to it) but loses its members.
    """
    counts = TeamCounts(teams=len(groups))
    lms_teams = {t.external_id: t for t in db.session.scalars(
        select(Team).where(Team.course_id == course_id, Team.external_id.is_not(None)))}

    def wanted_name(external_id: str) -> str:
        return tidy_name(groups[external_id], 190) or lms_group_name(external_id)[:190]

    # Teams whose group the LMS renamed give up their names first (under a placeholder, as names are unique), so
    # groups that swapped names, or passed one along, take theirs; each otherwise kept its name.
    before = {t.id: t.name for eid, t in lms_teams.items() if eid in groups and t.name != wanted_name(eid)}
    if before:
        for team in lms_teams.values():
            if team.id in before:
                team.name = f"~renaming {team.id} {secrets.token_hex(6)}"
        db.session.flush()
    # Names are unique whatever their case, as managers' names are (_check_name_free).
    taken = {text_fold.key(n) for n in db.session.scalars(select(Team.name).where(Team.course_id == course_id))} - {
        text_fold.key(t.name) for t in lms_teams.values() if t.id in before}
    for external_id in groups:
        team = lms_teams.get(external_id)
        wanted = wanted_name(external_id)
        if team is None:
            unique = wanted if text_fold.key(wanted) not in taken else f"{wanted} (LMS {external_id})"[:200]
            team = Team(course_id=course_id, name=unique, external_id=external_id, created_at=now)
            db.session.add(team)
            db.session.flush()
            lms_teams[external_id] = team
            counts.created += 1
        elif team.id in before:
            old = before[team.id]
            team.name = next(n for n in (wanted, old, f"{wanted} (LMS {external_id})"[:200],
                                         f"{wanted[:150]} (LMS {team.id})") if text_fold.key(n) not in taken)
            if team.name != old:
                standings.renamed(team.id, team.name)
        taken.add(text_fold.key(team.name))
    changes = []
    for external_id, team in lms_teams.items():
        wanted_ids = members.get(external_id, set()) if external_id in groups else set()
        current = set(db.session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id)))
        changes.append((team, wanted_ids, current))
    # As a manager's change does (_wait_for_awards): an award of theirs in progress commits first and the recount
    # sees it; one starting meanwhile waits, then counts for their teams as they now are.
    moving = set().union(*(wanted_ids ^ current for _team, wanted_ids, current in changes))
    if moving:
        change_standing(course_id, *sorted(moving))
    for team, wanted_ids, current in changes:
        for user_id in wanted_ids - current:
            db.session.add(TeamMember(team_id=team.id, user_id=user_id))
        if current - wanted_ids:
            db.session.execute(delete(TeamMember).where(TeamMember.team_id == team.id,
                                                        TeamMember.user_id.in_(current - wanted_ids)))
        counts.joined += len(wanted_ids - current)
        counts.left += len(current - wanted_ids)
    db.session.flush()
    return counts


# --- reading teams ----------------------------------------------------------------------------------------
LMS, LOCAL = "lms", "local"
SOURCE_LABELS = {LMS: _l("LMS group"), LOCAL: _l("Created here")}


@dataclass(frozen=True)
class TeamSummary:
    id: int
    name: str
    source: str   # LMS or LOCAL
    members: int  # counted in the team's figures: active learners (see aggregates.eligible)
    listed: int   # everyone on the team's list, counted or not

    @property
    def source_label(self) -> str:
        return str(SOURCE_LABELS[self.source])

    @property
    def from_lms(self) -> bool:
        return self.source == LMS


def source_of(team: Team) -> str:
    return LMS if team.external_id is not None else LOCAL


def _summaries(teams: list[Team]) -> list[TeamSummary]:
    ids = [t.id for t in teams]
    counted = dict(db.session.execute(select(TeamStat.team_id, TeamStat.value).where(
        TeamStat.team_id.in_(ids), TeamStat.period == ALL, TeamStat.metric == "members")).all()) if ids else {}
    listed = dict(db.session.execute(select(TeamMember.team_id, func.count()).where(
        TeamMember.team_id.in_(ids)).group_by(TeamMember.team_id)).all()) if ids else {}
    return [TeamSummary(t.id, t.name, source_of(t), int(counted.get(t.id, 0)), int(listed.get(t.id, 0)))
            for t in teams]


def summary_of(team: Team) -> TeamSummary:
    return _summaries([team])[0]


def _require_manager(actor: Actor) -> None:
    if not actor.can_manage:
        raise Forbidden(_("Only the course's managers manage its teams."))


def get_team(actor: Actor, team_id: int) -> Team:
    """A team of the actor's course; another course's team does not exist from here."""
    team = db.session.get(Team, team_id)
    if team is None or team.course_id != actor.course_id:
        raise NotFound(_("There is no such team in this course."))
    return team


def is_member(team_id: int, user_id: int) -> bool:
    return db.session.get(TeamMember, (team_id, user_id)) is not None


def viewable_team(actor: Actor, team_id: int) -> Team:
    """Team pages are for the team's members and the course's managers, not the whole course."""
    team = db.session.get(Team, team_id)
    return may_view(actor, team, team is not None and is_member(team.id, actor.user_id))


def may_view(actor: Actor, team: Team | None, member: bool) -> Team:
    """viewable_team's decision, for a caller that read the team and the viewer's membership itself."""
    if team is None or team.course_id != actor.course_id:
        raise NotFound(_("There is no such team in this course."))
    if not actor.can_manage and not member:
        raise Forbidden(_("Only this team's members and the course's managers see its page."))
    return team


def course_teams(actor: Actor) -> list[TeamSummary]:
    _require_manager(actor)
    return _summaries(list(db.session.scalars(select(Team).where(Team.course_id == actor.course_id)
                                              .order_by(Team.name, Team.id))))


def my_teams(actor: Actor) -> list[TeamSummary]:
    return _summaries(teams_of(actor.course_id, actor.user_id))


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    role: str | None      # their role in the course; None when they are no longer in it
    active: bool


def members_of(actor: Actor, team_id: int) -> list[Member]:
    _require_manager(actor)
    team = get_team(actor, team_id)
    rows = db.session.execute(
        select(User.id, User.name, Membership.role, Membership.status, Membership.test_user)
        .join(TeamMember, TeamMember.user_id == User.id)
        .outerjoin(Membership, (Membership.user_id == User.id) & (Membership.course_id == team.course_id))
        .where(TeamMember.team_id == team.id).order_by(User.name, User.id)).all()
    return [Member(uid, name or _("Participant %(id)s", id=uid), role, role is not None and status == ACTIVE and not test)
            for uid, name, role, status, test in rows]


def _learners(course_id: int, *columns):
    """Learners who count in the course (active, not the LMS's test student): who managers may add. Not an erased
    account: nothing new is saved for it (its team memberships from before stay, as its figures do)."""
    return select(*(columns or (User,))).join(Membership, Membership.user_id == User.id).where(
        Membership.course_id == course_id, Membership.role == Role.LEARNER.value, counted_membership(),
        User.erased_at.is_(None))


def candidates(actor: Actor, team_id: int, search: str = "", limit: int = 100) -> tuple[list[User], bool]:
    """Learners of the course not yet in the team (name filter optional); and whether there are more."""
    _require_manager(actor)
    team = get_team(actor, team_id)
    query = _learners(team.course_id).where(User.id.not_in(select(TeamMember.user_id).where(
        TeamMember.team_id == team.id)))
    if search.strip():
        folded, fold_word = text_fold.folder()  # "öztürk" finds "Can Öztürk" on both databases
        query = query.where(folded(User.name).contains(fold_word(search.strip()), autoescape=True))
    found = list(db.session.scalars(query.order_by(User.name, User.id).limit(limit + 1)))
    return found[:limit], len(found) > limit


# --- managing teams ---------------------------------------------------------------------------------------
def _managed(actor: Actor, team_id: int, lock: bool = False) -> Team:
    """A team of the course this manager may change (not one mirrored from the LMS).

    lock: hold the team's row until commit, so two submits of the same change apply one after the other and
    the second finds nothing left to do (SQLite serialises writers anyway)."""
    _require_manager(actor)
    query = select(Team).where(Team.id == team_id, Team.course_id == actor.course_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    team = db.session.scalar(query)
    if team is None:
        raise NotFound(_("There is no such team in this course."))
    if team.external_id is not None:
        raise Forbidden(_("This team mirrors a group in your LMS: its name and members come from the LMS."),
                        hint=_("Change the group in the LMS; the next roster sync brings the change here."))
    return team


def _check_name_free(course_id: int, name: str, team_id: int | None = None) -> None:
    """Names are unique per course whatever their case. The database's constraint is case-sensitive, so
    name changes in a course take turns on the course's row (SQLite serialises writers anyway)."""
    db.session.execute(select(Course.id).where(Course.id == course_id).with_for_update())
    folded, fold_word = text_fold.folder()  # "ölçme" is "Ölçme" too
    query = select(Team.name).where(Team.course_id == course_id, folded(Team.name) == fold_word(name))
    if team_id is not None:
        query = query.where(Team.id != team_id)
    taken = db.session.scalar(query)
    if taken is not None:
        raise Conflict(_("This course already has a team called “%(name)s”.", name=taken),
                       errors={"name": [_("Choose a name no other team of this course has.")]})


def _name(data: dict) -> str:
    """The team name sent, as names are stored (core.names.tidy); an empty one is refused."""
    name = tidy_name(data["name"])
    if not name:
        raise InvalidInput(_("Give the team a name."), errors={"name": [_("Give the team a name.")]})
    return name


def create_team(actor: Actor, data: dict, now: datetime) -> Team:
    _require_manager(actor)
    name = _name(data)
    _check_name_free(actor.course_id, name)
    team_id = insert_ignore(db.session, Team.__table__, {"course_id": actor.course_id, "name": name,
                                                         "created_at": now}, ["course_id", "name"])
    if team_id is None:  # a concurrent request took the name between the check and the insert
        raise Conflict(_("This course already has a team called “%(name)s”.", name=name),
                       errors={"name": [_("Choose a name no other team of this course has.")]})
    record(actor, "team.created", "team", team_id, {"name": name}, now)
    return db.session.get(Team, team_id)


def rename_team(actor: Actor, team_id: int, data: dict, now: datetime) -> Team:
    team = _managed(actor, team_id, lock=True)
    name, before = _name(data), team.name
    if name == before:
        return team
    _check_name_free(team.course_id, name, team.id)
    team.name = name
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        db.session.expire(team)
        raise Conflict(_("Another team took this name a moment ago."),
                       errors={"name": [_("Choose a name no other team of this course has.")]}) from None
    standings.renamed(team.id, name)  # team boards order ties by name
    record(actor, "team.renamed", "team", team.id, {"name": [before, name]}, now)
    return team


def _members_changed(team: Team, now: datetime) -> None:
    """Recompute what depends on who is in the team: its figures, and its challenges' boards and progress (who
    counts is who is in the team now, as the board's rebuild has it; an ended challenge's result stands)."""
    db.session.flush()
    reconcile.team_members_changed(team.id)
    for challenge in db.session.scalars(select(Challenge).where(
            Challenge.team_id == team.id, Challenge.cancelled_at.is_(None)).order_by(Challenge.id)).all():
        reconcile.rebuild_challenge(challenge.id)
        if now < challenge.ends_at:
            challenge_progress.recount(challenge, now)


def _wait_for_awards(actor: Actor, user_ids: list[int]) -> None:
    """The people's membership rows, locked as their awards lock them (tenancy.change_standing), before the team's
    row (the order an award takes them in): the team's figures are then recomputed from their points with any award
    of theirs in progress committed first, and an award of theirs that starts meanwhile waits for this change and
    then counts for their teams as they now are."""
    _require_manager(actor)
    if user_ids:
        change_standing(actor.course_id, *user_ids)


def add_members(actor: Actor, team_id: int, user_ids: list[int], now: datetime) -> list[int]:
    """Add learners of the course; those already in the team are skipped. Returns who was added."""
    wanted = sorted(set(user_ids))
    _wait_for_awards(actor, wanted)
    team = _managed(actor, team_id, lock=True)
    learners = set(db.session.scalars(_learners(team.course_id, User.id).where(User.id.in_(wanted)))) if wanted else set()
    if not wanted or learners != set(wanted):
        raise InvalidInput(_("Only learners of this course can join its teams."),
                           errors={"user_id": [_("Choose learners from the list.")]})
    present = set(db.session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team.id,
                                                                      TeamMember.user_id.in_(wanted))))
    added = [u for u in wanted if u not in present]
    for user_id in added:
        insert_ignore(db.session, TeamMember.__table__, {"team_id": team.id, "user_id": user_id},
                      ["team_id", "user_id"], returning=False)
    if added:
        _members_changed(team, now)
        record(actor, "team.members_added", "team", team.id, {"user_ids": added}, now)
    return added


def remove_member(actor: Actor, team_id: int, user_id: int, now: datetime) -> bool:
    """Take someone off the team; False when they were not on it (a second click)."""
    _wait_for_awards(actor, [user_id])
    team = _managed(actor, team_id, lock=True)
    gone = db.session.execute(delete(TeamMember).where(TeamMember.team_id == team.id,
                                                       TeamMember.user_id == user_id)).rowcount
    if not gone:
        return False
    _members_changed(team, now)
    record(actor, "team.member_removed", "team", team.id, {"user_id": user_id}, now)
    return True


def _deleted_here(actor: Actor, team_id: int) -> bool:
    return db.session.execute(select(AuditEvent.id).where(
        AuditEvent.organisation_id == actor.organisation_id, AuditEvent.course_id == actor.course_id,
        AuditEvent.action == "team.deleted", AuditEvent.target_type == "team",
        AuditEvent.target_id == team_id).limit(1)).first() is not None


def delete_team(actor: Actor, team_id: int, now: datetime) -> bool:
    """Delete a team made here; False when this course's team was already deleted (a second click)."""
    _require_manager(actor)
    if db.session.get(Team, team_id) is None and _deleted_here(actor, team_id):
        return False
    # The members' rows before the team's, the order an award and the other team changes take them in.
    _wait_for_awards(actor, list(db.session.scalars(select(TeamMember.user_id).where(TeamMember.team_id == team_id))))
    team = _managed(actor, team_id, lock=True)
    # A challenge's team is part of its meaning (who counts, its board); dropping the team would quietly turn
    # it into a course-wide challenge.
    if db.session.execute(select(Challenge.id).where(Challenge.team_id == team.id,
                                                     Challenge.cancelled_at.is_(None)).limit(1)).first():
        raise Conflict(_("This team has challenges. Cancel them first, then delete the team."))
    name = team.name
    listed = db.session.execute(delete(TeamMember).where(TeamMember.team_id == team.id)).rowcount
    db.session.delete(team)
    db.session.flush()
    reconcile.team_members_changed(team_id)  # the team is gone: this drops its figures
    record(actor, "team.deleted", "team", team_id, {"name": name, "members": listed}, now)
    return True
