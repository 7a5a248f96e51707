"""Peer help: pending until the helped person confirms, paid once, capped per pair, loops flagged for managers."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from plugin.badges.service import badges_of
from plugin.core.actor import Role
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import balances, points_for_source, verify_totals
from plugin.peer_help.models import CONFIRMED, DECLINED, PENDING
from plugin.peer_help.service import (
    HELPED_ME,
    I_HELPED,
    awaiting_me,
    confirm_help,
    decline_help,
    flagged_loops,
    mine,
    record_help,
)
from plugin.teams.service import add_member, ensure_team
from tests.services.factories import NOW, later, log, make_actor, make_platform


@pytest.fixture
def course(appctx):
    platform = make_platform()
    return SimpleNamespace(platform=platform, ada=make_actor(platform, "ada"), bo=make_actor(platform, "bo"),
                           cy=make_actor(platform, "cy"), dee=make_actor(platform, "dee"),
                           manager=make_actor(platform, "boss", Role.MANAGER))


def helped_by(helped, helper, minutes: int = 0, now=None):
    """`helped` says "`helper` helped me": confirmed at once."""
    return record_help(helped, other_user_id=helper.user_id, direction=HELPED_ME,
                       description="Showed me how to ask for sources", now=now or later(minutes)).help


def helping_points(actor) -> int:
    return balances(actor.course_id, actor.user_id).get("helping", 0)


def badge_names(actor) -> list[str]:
    return sorted(badge.name for _award, badge in badges_of(actor.course_id, actor.user_id))


def paid_for(actor, help) -> int:
    return points_for_source(actor.course_id, actor.user_id, "peer_help", help.id)


def help_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(LedgerEntry)
                             .where(LedgerEntry.source_type == "peer_help"))


def test_i_helped_is_pending_and_earns_nothing_until_the_helped_person_confirms(course):
    offered = record_help(course.ada, other_user_id=course.bo.user_id, direction=I_HELPED,
                          description="Walked through prompt chaining", now=NOW)
    db.session.commit()
    assert offered.recognitions == []
    assert (offered.help.status, offered.help.helper_id, offered.help.helped_id) == (
        PENDING, course.ada.user_id, course.bo.user_id)
    assert balances(course.ada.course_id, course.ada.user_id) == {}
    assert help_rows() == 0
    assert [h.id for h in awaiting_me(course.bo)] == [offered.help.id]
    assert awaiting_me(course.ada) == []

    confirmed = confirm_help(course.bo, offered.help.id, later(5))
    db.session.commit()
    assert confirmed.help.status == CONFIRMED and confirmed.help.resolved_at == later(5)
    assert [(r.rule_name, r.points) for r in confirmed.recognitions] == [("Helped a colleague", 10)]
    assert balances(course.ada.course_id, course.ada.user_id) == {"helping": 10, "total": 10}
    assert balances(course.bo.course_id, course.bo.user_id) == {}  # the helped person earns nothing
    assert awaiting_me(course.bo) == []


def test_a_help_is_paid_once_even_if_confirmed_again(course):
    offered = record_help(course.ada, other_user_id=course.bo.user_id, direction=I_HELPED,
                          description="Walked through prompt chaining", now=NOW).help
    confirm_help(course.bo, offered.id, later(1))
    with pytest.raises(Conflict):
        confirm_help(course.bo, offered.id, later(2))
    assert help_rows() == 1
    assert helping_points(course.ada) == 10


def test_x_helped_me_is_confirmed_at_once(course):
    result = record_help(course.bo, other_user_id=course.ada.user_id, direction=HELPED_ME,
                         description="Ada fixed my spreadsheet formula prompt", now=NOW)
    db.session.commit()
    assert result.help.status == CONFIRMED
    assert (result.help.helper_id, result.help.helped_id, result.help.recorded_by_id) == (
        course.ada.user_id, course.bo.user_id, course.bo.user_id)
    assert helping_points(course.ada) == 10
    assert awaiting_me(course.ada) == [] and awaiting_me(course.bo) == []
    assert [h.id for h in mine(course.ada)] == [result.help.id]


@pytest.mark.parametrize("direction", [HELPED_ME, I_HELPED])
def test_nobody_can_help_themselves(course, direction):
    with pytest.raises(InvalidInput) as err:
        record_help(course.ada, other_user_id=course.ada.user_id, direction=direction, description="Myself", now=NOW)
    assert "other" in err.value.errors
    assert mine(course.ada) == [] and help_rows() == 0


@pytest.mark.parametrize("who", ["another course", "observer in this course"])
def test_someone_outside_the_course_is_refused(course, who):
    other = (make_actor(course.platform, "zed", context_id="course-2") if who == "another course"
             else make_actor(course.platform, "parent", Role.OBSERVER))
    for direction in (HELPED_ME, I_HELPED):
        with pytest.raises(InvalidInput) as err:
            record_help(course.ada, other_user_id=other.user_id, direction=direction, description="Helped", now=NOW)
        assert "other" in err.value.errors
    assert mine(course.ada) == []


def test_an_observer_cannot_record_help(course):
    observer = make_actor(course.platform, "parent", Role.OBSERVER)
    with pytest.raises(Forbidden):
        record_help(observer, other_user_id=course.ada.user_id, direction=HELPED_ME, description="Helped", now=NOW)


def test_only_the_helped_person_can_confirm(course):
    offered = record_help(course.ada, other_user_id=course.bo.user_id, direction=I_HELPED,
                          description="Walked through prompt chaining", now=NOW).help
    bo_elsewhere = make_actor(course.platform, "bo", context_id="course-2")
    for someone in (course.ada, course.cy, course.manager, bo_elsewhere):
        with pytest.raises(NotFound):
            confirm_help(someone, offered.id, later(1))
        with pytest.raises(NotFound):
            decline_help(someone, offered.id, later(1))
    assert offered.status == PENDING
    assert helping_points(course.ada) == 0


def test_an_observer_cannot_answer_a_help_offered_to_them(course):
    """Bo, the helped person, now launches as an observer (a Canvas mentor): neither a yes (which pays Ada) nor a no,
    by page or by API, since both end here."""
    from dataclasses import replace

    offered = record_help(course.ada, other_user_id=course.bo.user_id, direction=I_HELPED,
                          description="Walked through prompt chaining", now=NOW).help
    observer = replace(course.bo, role=Role.OBSERVER)
    for answer in (confirm_help, decline_help):
        with pytest.raises(Forbidden):
            answer(observer, offered.id, later(1))
    assert offered.status == PENDING and helping_points(course.ada) == 0
    assert confirm_help(course.bo, offered.id, later(2)).help.status == CONFIRMED


def test_the_helped_person_can_decline(course):
    offered = record_help(course.ada, other_user_id=course.bo.user_id, direction=I_HELPED,
                          description="Claimed to have helped", now=NOW).help
    declined = decline_help(course.bo, offered.id, later(1))
    db.session.commit()
    assert (declined.status, declined.resolved_at) == (DECLINED, later(1))
    assert awaiting_me(course.bo) == []
    with pytest.raises(Conflict):
        confirm_help(course.bo, offered.id, later(2))
    assert helping_points(course.ada) == 0 and help_rows() == 0


def test_helps_beyond_the_pair_cap_are_confirmed_but_earn_nothing(course):
    """Default cap: 3 paid helps between the same two people per 30 days."""
    helps = [helped_by(course.bo, course.ada, minutes=i) for i in range(4)]
    db.session.commit()
    assert [h.status for h in helps] == [CONFIRMED] * 4
    assert [h.over_pair_cap for h in helps] == [False, False, False, True]
    # The third also brings the Helper badge's 15; the fourth brings nothing.
    assert [paid_for(course.ada, h) for h in helps] == [10, 10, 25, 0]
    assert helping_points(course.ada) == 3 * 10 + 15  # three helps, and the Helper badge's 15
    assert "Helper" in badge_names(course.ada)

    # The other direction and other pairs have caps of their own.
    helped_by(course.ada, course.bo, minutes=10)
    helped_by(course.cy, course.ada, minutes=11)
    assert helping_points(course.bo) == 10
    assert helping_points(course.ada) == 55

    # Once the window has passed, the same pair earns again.
    fresh = helped_by(course.bo, course.ada, now=NOW + timedelta(days=31))
    assert fresh.over_pair_cap is False
    assert helping_points(course.ada) == 65
    assert verify_totals() == []


def test_a_back_and_forth_loop_is_flagged_for_managers_and_still_counts(course):
    first = helped_by(course.bo, course.ada, minutes=0)
    second = helped_by(course.ada, course.bo, minutes=1)
    third = helped_by(course.bo, course.ada, minutes=2)
    closing = helped_by(course.ada, course.bo, minutes=3)
    db.session.commit()
    assert [h.loop_flagged for h in (first, second, third, closing)] == [False, False, False, True]
    assert [h.id for h in flagged_loops(course.manager)] == [closing.id]
    assert closing.status == CONFIRMED and closing.over_pair_cap is False
    assert helping_points(course.ada) == 20 and helping_points(course.bo) == 20  # flagged, not dropped
    with pytest.raises(Forbidden):
        flagged_loops(course.ada)
    other_course_manager = make_actor(course.platform, "boss", Role.MANAGER, context_id="course-2")
    assert flagged_loops(other_course_manager) == []


def test_help_across_teams_earns_bridge_builder(course):
    red, blue = ensure_team(course.ada.course_id, "Red", NOW), ensure_team(course.ada.course_id, "Blue", NOW)
    add_member(red, course.ada.user_id)
    add_member(red, course.cy.user_id)
    add_member(blue, course.bo.user_id)

    within = helped_by(course.cy, course.ada, minutes=0)
    assert within.across_teams is False
    assert "Bridge Builder" not in badge_names(course.ada)
    assert helping_points(course.ada) == 10

    across = helped_by(course.bo, course.ada, minutes=1)
    db.session.commit()
    assert across.across_teams is True
    assert "Bridge Builder" in badge_names(course.ada)
    assert paid_for(course.ada, across) == 10 + 10  # the help, and Bridge Builder's 10

    again = helped_by(course.bo, course.ada, minutes=2)
    assert again.across_teams is True
    assert badge_names(course.ada).count("Bridge Builder") == 1
    assert paid_for(course.ada, again) == 10 + 15  # the help, and (third help) Helper's 15, no second bridge


def test_help_from_someone_without_a_team_is_not_across_teams(course):
    blue = ensure_team(course.bo.course_id, "Blue", NOW)
    add_member(blue, course.bo.user_id)
    assert helped_by(course.bo, course.ada).across_teams is False
    assert "Bridge Builder" not in badge_names(course.ada)


def test_the_helper_badge_comes_after_three_confirmed_helps(course):
    record_help(course.ada, other_user_id=course.manager.user_id, direction=I_HELPED,
                description="Pending: does not count", now=NOW)
    helped_by(course.bo, course.ada, minutes=1)
    helped_by(course.cy, course.ada, minutes=2)
    assert "Helper" not in badge_names(course.ada)
    assert helping_points(course.ada) == 20
    helped_by(course.dee, course.ada, minutes=3)
    db.session.commit()
    assert "Helper" in badge_names(course.ada)
    assert helping_points(course.ada) == 30 + 15
    helped_by(course.bo, course.ada, minutes=4)
    assert badge_names(course.ada).count("Helper") == 1


def test_staff_can_be_thanked_but_earn_no_points(course):
    result = record_help(course.ada, other_user_id=course.manager.user_id, direction=HELPED_ME,
                         description="The manager explained the AI policy", now=NOW)
    assert result.help.status == CONFIRMED and result.recognitions == []
    assert balances(course.manager.course_id, course.manager.user_id) == {}


def test_help_can_point_at_an_experiment_the_person_can_see(course):
    shared = log(course.bo).experiment
    private = log(course.cy, later(1), visibility="private").experiment
    linked = record_help(course.bo, other_user_id=course.ada.user_id, direction=HELPED_ME,
                         description="Improved this one", now=later(2), experiment_id=shared.id).help
    assert linked.experiment_id == shared.id
    with pytest.raises(NotFound):
        record_help(course.ada, other_user_id=course.cy.user_id, direction=I_HELPED,
                    description="Helped with a private one", now=later(3), experiment_id=private.id)


def test_the_same_help_form_sent_twice_records_and_pays_once(course):
    first = record_help(course.bo, other_user_id=course.ada.user_id, direction=HELPED_ME, now=later(1),
                        description="Showed me prompt chaining", submission_key="help-form-1")
    again = record_help(course.bo, other_user_id=course.ada.user_id, direction=HELPED_ME, now=later(2),
                        description="Showed me prompt chaining", submission_key="help-form-1")
    assert (first.created, again.created) == (True, False)
    assert again.help.id == first.help.id and again.recognitions == []
    assert helping_points(course.ada) == 10
    # another form (a new key) is another help; the same key from someone else is their own form
    other_form = record_help(course.bo, other_user_id=course.ada.user_id, direction=HELPED_ME, now=later(3),
                             description="Showed me how to ask for sources", submission_key="help-form-2")
    someone_else = record_help(course.cy, other_user_id=course.ada.user_id, direction=HELPED_ME, now=later(4),
                               description="Reviewed my prompt", submission_key="help-form-1")
    assert other_form.created and someone_else.created
    # three helps recorded, three paid (the third also earns the Helper badge's 15)
    assert [paid_for(course.ada, h.help) for h in (first, other_form, someone_else)] == [10, 10, 25]
    assert "Helper" in badge_names(course.ada)
    assert verify_totals() == []


@pytest.mark.parametrize("direction", [HELPED_ME, I_HELPED])
def test_an_erased_learner_is_not_someone_to_record_help_with(course, direction):
    """After erasure the account stays (ids and points) but names nobody: help "from" it would pay an erased
    account, help "to" it would wait for a confirmation that can never come."""
    from plugin.privacy.erase import erase_person

    admin = make_actor(course.platform, "admin", Role.ADMIN)
    erase_person(admin, course.bo.user_id, NOW)
    with pytest.raises(InvalidInput):
        record_help(course.ada, other_user_id=course.bo.user_id, direction=direction,
                    description="Showed me prompt chaining", now=later(1))
    assert mine(course.ada) == []
