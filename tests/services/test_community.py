"""The community library: reactions and reuses (crediting the author), reports, and hiding by managers."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from plugin.audit.models import AuditEvent
from plugin.badges.service import badges_of
from plugin.community.models import Reaction, Report, Reuse
from plugin.community.service import (
    hide,
    mark_reused,
    my_reactions,
    open_reports,
    react,
    reactions_summary,
    report,
    unhide,
    withdraw_reaction,
)
from plugin.core.actor import Role
from plugin.errors import Forbidden, InvalidInput, NotFound
from plugin.experiments.queries import feed, get_visible
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import balances, verify_totals
from tests.services.factories import NOW, later, log, make_actor, make_platform
from tests.services.test_concurrency import while_the_first_waits_to_commit


@pytest.fixture
def course(appctx):
    platform = make_platform()
    people = SimpleNamespace(platform=platform, boss=make_actor(platform, "boss", Role.MANAGER),
                             **{sub: make_actor(platform, sub) for sub in ("ada", "bo", "cy", "dee")})
    people.post = log(people.ada, title="Meeting notes summarised by AI").experiment
    return people


def sharing(actor) -> int:
    return balances(actor.course_id, actor.user_id).get("sharing", 0)


def badge_names(actor) -> list[str]:
    return sorted(b.name for _award, b in badges_of(actor.course_id, actor.user_id))


def rows(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def feed_ids(actor) -> list[int]:
    return [row["experiment"].id for row in feed(actor)]


def test_each_kind_of_reaction_counts_once_per_person(course):
    assert react(course.bo, course.post.id, "helpful", NOW) is True
    assert react(course.bo, course.post.id, "helpful", later(1)) is False
    assert react(course.bo, course.post.id, "saved_mistake", later(2)) is True
    assert react(course.cy, course.post.id, "helpful", later(3)) is True
    db.session.commit()
    assert reactions_summary(course.post.id) == {"helpful": 2, "saved_mistake": 1, "reused": 0}
    assert my_reactions(course.bo, course.post.id) == {"helpful", "saved_mistake"}
    assert rows(Reaction) == 3
    with pytest.raises(InvalidInput):
        react(course.bo, course.post.id, "love", later(4))


def well_received(course, count: int = 2, points: int = 10) -> None:
    from plugin.rules.definitions import create_rule

    create_rule(course.ada.organisation_id, {"name": "Well received", "condition": "reactions_received",
                                             "params": {"count": count}, "points": points, "dimension": "sharing",
                                             "repeatable": False}, NOW)


def test_a_reaction_can_be_taken_back_and_counts_leave_it_out(course):
    assert react(course.bo, course.post.id, "helpful", NOW) is True
    react(course.bo, course.post.id, "saved_mistake", NOW)
    assert withdraw_reaction(course.bo, course.post.id, "helpful", later(1)) is True
    assert withdraw_reaction(course.bo, course.post.id, "helpful", later(2)) is False  # nothing left to take back
    assert withdraw_reaction(course.cy, course.post.id, "helpful", later(2)) is False  # never given
    db.session.commit()
    assert reactions_summary(course.post.id) == {"saved_mistake": 1, "reused": 0}
    assert my_reactions(course.bo, course.post.id) == {"saved_mistake"}
    assert react(course.bo, course.post.id, "helpful", later(3)) is True  # given again
    assert react(course.bo, course.post.id, "helpful", later(4)) is False
    db.session.commit()
    assert reactions_summary(course.post.id)["helpful"] == 1 and rows(Reaction) == 2
    with pytest.raises(InvalidInput):
        withdraw_reaction(course.bo, course.post.id, "love", later(5))


def test_a_reaction_taken_back_does_not_count_towards_a_reactions_rule_and_back_and_forth_pays_once(course):
    """The rule pays for two reactions received: one given and taken back does not count, given again it does
    (and pays, though no new reaction arrived then); taking it back and forth afterwards pays nothing more."""
    well_received(course)
    before = sharing(course.ada)
    react(course.bo, course.post.id, "helpful", NOW)
    withdraw_reaction(course.bo, course.post.id, "helpful", later(1))
    react(course.cy, course.post.id, "helpful", later(2))
    db.session.commit()
    assert sharing(course.ada) == before  # one reaction stands
    react(course.bo, course.post.id, "helpful", later(3))
    db.session.commit()
    assert sharing(course.ada) == before + 10
    for minute in range(4, 10):
        withdraw_reaction(course.bo, course.post.id, "helpful", later(minute))
        react(course.bo, course.post.id, "helpful", later(minute))
    db.session.commit()
    assert sharing(course.ada) == before + 10 and rows(Reaction) == 2
    assert verify_totals() == []


def test_a_recalculation_counts_only_the_reactions_standing(course):
    """What the author earned for a reaction stays when it is taken back, as with every correction; a recalculation
    of the rules, which sees only the reactions standing, takes it back."""
    from plugin.replay.service import replay

    well_received(course, count=1)
    before = sharing(course.ada)
    react(course.bo, course.post.id, "helpful", NOW)
    withdraw_reaction(course.bo, course.post.id, "helpful", later(1))
    db.session.commit()
    assert sharing(course.ada) == before + 10  # kept
    replay(course.ada.organisation_id, later(2), apply=True)
    db.session.commit()
    assert sharing(course.ada) == before
    assert verify_totals() == []


@pytest.mark.parametrize("how", ["reaction", "reuse"])
def test_reactions_and_reuses_of_a_near_duplicate_count_for_its_author_live_as_in_a_recalculation(course, how):
    """Ada logs the same text twice: the second is a near-duplicate (no points of its own). Bo reacts to (or reuses)
    the first and Cy the second: two colleagues, so a rule for two reactions (two reusers) pays, and a recalculation
    with no rule changed finds nothing to change. Live awarding left the near-duplicate's out while the replay counted
    them. (Found by a rules review.)"""
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    condition = {"reaction": "reactions_received", "reuse": "reuses_received"}[how]
    rule = create_rule(course.ada.organisation_id, {"name": "Two of them", "condition": condition,
                                                    "params": {"count": 2}, "points": 15, "dimension": "sharing"}, NOW)
    copy = "Asked it to turn the minutes into actions with owners and dates; it missed one implicit action."
    first = log(course.ada, later(1), tried=copy).experiment
    again = log(course.ada, later(2), tried=copy).experiment
    assert again.duplicate_of_id == first.id
    give = (lambda who, post, at: react(who, post.id, "helpful", at)) if how == "reaction" else (
        lambda who, post, at: mark_reused(who, post.id, at))
    give(course.bo, first, later(3))
    give(course.cy, again, later(4))
    db.session.commit()
    assert db.session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.rule_id == rule.id)) == 15
    assert replay(course.ada.organisation_id, later(5)).empty
    assert verify_totals() == []


def test_a_reuse_credits_the_author_in_sharing(course):
    assert mark_reused(course.bo, course.post.id, NOW) is True
    db.session.commit()
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source_type == "reuse"))
    assert (entry.user_id, entry.amount, entry.dimension) == (course.ada.user_id, 5, "sharing")
    assert sharing(course.ada) == 5
    assert balances(course.bo.course_id, course.bo.user_id) == {}  # the reuser earns nothing for clicking
    assert mark_reused(course.bo, course.post.id, later(1)) is False
    assert sharing(course.ada) == 5 and rows(Reuse) == 1
    assert my_reactions(course.bo, course.post.id) == {"reused"}


def test_three_colleagues_reusing_earns_the_reused_badge(course):
    mark_reused(course.bo, course.post.id, NOW)
    mark_reused(course.cy, course.post.id, later(1))
    assert "Reused" not in badge_names(course.ada)
    mark_reused(course.dee, course.post.id, later(2))
    db.session.commit()
    assert "Reused" in badge_names(course.ada)
    assert sharing(course.ada) == 3 * 5 + 15
    assert reactions_summary(course.post.id)["reused"] == 3
    assert verify_totals() == []


def test_the_third_colleague_reusing_while_the_second_reuse_is_being_saved_still_earns_the_reused_badge(app, course):
    """Two colleagues click 'I reused this' at the same moment, the author's second and third reuses: the later
    one must count the other, or neither sees three colleagues and the badge never comes (here the organisation pays
    nothing per reuse, so no points row of the author's makes the second wait by chance)."""
    from plugin.rules.definitions import update_rule
    from plugin.rules.models import Rule

    admin = make_actor(course.platform, "admin", Role.ADMIN)
    per_reuse = db.session.scalar(select(Rule).where(Rule.organisation_id == admin.organisation_id,
                                                     Rule.condition == "each_reuse"))
    update_rule(admin, per_reuse.id, {"active": False}, NOW)
    mark_reused(course.bo, course.post.id, NOW)
    post_id, cy, dee = course.post.id, course.cy, course.dee
    while_the_first_waits_to_commit(app, lambda: mark_reused(cy, post_id, later(1)),
                                    lambda: mark_reused(dee, post_id, later(2)))
    db.session.expire_all()
    assert reactions_summary(post_id)["reused"] == 3
    assert "Reused" in badge_names(course.ada)
    assert sharing(course.ada) == 15
    assert verify_totals() == []


def test_the_third_reaction_arriving_while_the_second_is_being_saved_still_meets_a_reactions_rule(app, course):
    """An organisation pays once for three reactions received: two colleagues reacting at the same moment must not
    each count two and leave the author unpaid."""
    from plugin.rules.definitions import create_rule

    create_rule(course.ada.organisation_id, {"name": "Well received", "condition": "reactions_received",
                                             "params": {"count": 3}, "points": 10, "dimension": "sharing",
                                             "repeatable": False}, NOW)
    react(course.bo, course.post.id, "helpful", NOW)
    post_id, cy, dee = course.post.id, course.cy, course.dee
    while_the_first_waits_to_commit(app, lambda: react(cy, post_id, "helpful", later(1)),
                                    lambda: react(dee, post_id, "saved_mistake", later(2)))
    db.session.expire_all()
    assert rows(Reaction) == 3
    assert sharing(course.ada) == 10
    assert verify_totals() == []


def test_one_colleague_reusing_three_posts_is_not_three_colleagues(course):
    posts = [course.post] + [log(course.ada, later(i), title=f"Another shared idea {i}").experiment for i in (1, 2)]
    for i, post in enumerate(posts):
        mark_reused(course.bo, post.id, later(10 + i))
    assert sharing(course.ada) == 3 * 5
    assert "Reused" not in badge_names(course.ada)


def test_nobody_reacts_to_or_reuses_their_own_post(course):
    with pytest.raises(InvalidInput):
        react(course.ada, course.post.id, "helpful", NOW)
    with pytest.raises(InvalidInput):
        mark_reused(course.ada, course.post.id, NOW)
    assert rows(Reaction) == 0 and rows(Reuse) == 0 and sharing(course.ada) == 0


def test_observers_read_but_do_not_react(course):
    observer = make_actor(course.platform, "parent", Role.OBSERVER)
    assert course.post.id in feed_ids(observer)
    with pytest.raises(Forbidden):
        react(observer, course.post.id, "helpful", NOW)
    with pytest.raises(Forbidden):
        mark_reused(observer, course.post.id, NOW)


def test_a_private_post_cannot_be_reacted_to_by_others(course):
    private = log(course.ada, later(1), visibility="private").experiment
    with pytest.raises(NotFound):
        react(course.bo, private.id, "helpful", later(2))
    with pytest.raises(NotFound):
        mark_reused(course.bo, private.id, later(2))
    someone_elsewhere = make_actor(course.platform, "bo", context_id="course-2")
    with pytest.raises(NotFound):
        react(someone_elsewhere, course.post.id, "helpful", later(2))


def test_a_hidden_post_is_invisible_to_learners_but_not_to_its_author_or_managers(course):
    hide(course.boss, course.post.id, "Contains a client's name", later(1))
    db.session.commit()
    assert course.post.id not in feed_ids(course.bo)
    with pytest.raises(NotFound):
        get_visible(course.bo, course.post.id)
    with pytest.raises(NotFound):
        react(course.bo, course.post.id, "helpful", later(2))
    with pytest.raises(NotFound):
        mark_reused(course.bo, course.post.id, later(2))
    assert course.post.id in feed_ids(course.ada)
    assert get_visible(course.ada, course.post.id)["experiment"].hidden_reason == "Contains a client's name"
    assert course.post.id in feed_ids(course.boss)

    unhide(course.boss, course.post.id, later(3))
    db.session.commit()
    assert course.post.id in feed_ids(course.bo)
    assert react(course.bo, course.post.id, "helpful", later(4)) is True


def test_hiding_and_restoring_are_audited(course):
    hide(course.boss, course.post.id, "Contains a client's name", later(1))
    unhide(course.boss, course.post.id, later(2))
    db.session.commit()
    events = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert [(e.action, e.target_id, e.details, e.actor_user_id, e.course_id) for e in events] == [
        ("experiment.hidden", course.post.id, {"reason": "Contains a client's name"}, course.boss.user_id,
         course.boss.course_id),
        ("experiment.restored", course.post.id, {}, course.boss.user_id, course.boss.course_id)]


def test_only_managers_hide_and_restore_and_with_a_reason(course):
    with pytest.raises(Forbidden):
        hide(course.bo, course.post.id, "I do not like it", NOW)
    with pytest.raises(Forbidden):
        unhide(course.bo, course.post.id, NOW)
    with pytest.raises(InvalidInput):
        hide(course.boss, course.post.id, "  ", NOW)
    elsewhere = make_actor(course.platform, "boss", Role.MANAGER, context_id="course-2")
    with pytest.raises(NotFound):
        hide(elsewhere, course.post.id, "Not my course", NOW)
    assert course.post.hidden_at is None and rows(AuditEvent) == 0


def test_a_reported_entry_its_author_makes_private_leaves_the_managers_report_list(course):
    from plugin.experiments.service import share_experiment

    report(course.bo, course.post.id, "Names a colleague", later(1))
    share_experiment(course.ada, course.post.id, "private", later(2))  # the author takes it back
    with pytest.raises(NotFound):
        get_visible(course.boss, course.post.id)
    assert open_reports(course.boss) == []  # neither its title nor the report shows
    share_experiment(course.ada, course.post.id, "course", later(3))  # shared again: the report is back
    assert [e.id for _r, e in open_reports(course.boss)] == [course.post.id]


def test_reports_are_listed_for_managers_and_resolved_when_hidden(course):
    other = log(course.bo, later(1), title="Grading rubric drafted by AI").experiment
    report(course.bo, course.post.id, "Looks like it has personal data", later(2))
    report(course.bo, course.post.id, "Reported twice by accident", later(3))
    report(course.cy, course.post.id, "Client name in the text", later(4))
    report(course.ada, other.id, "Off topic", later(5))
    db.session.commit()
    listed = open_reports(course.boss)
    assert [(r.reporter_id, e.id, r.reason) for r, e in listed] == [
        (course.bo.user_id, course.post.id, "Looks like it has personal data"),
        (course.cy.user_id, course.post.id, "Client name in the text"),
        (course.ada.user_id, other.id, "Off topic")]
    with pytest.raises(Forbidden):
        open_reports(course.bo)
    elsewhere = make_actor(course.platform, "boss", Role.MANAGER, context_id="course-2")
    assert open_reports(elsewhere) == []

    hide(course.boss, course.post.id, "Contains a client's name", later(6))
    db.session.commit()
    assert [e.id for _r, e in open_reports(course.boss)] == [other.id]
    assert rows(Report, Report.experiment_id == course.post.id, Report.resolved_at.is_(None)) == 0
    assert rows(Report, Report.experiment_id == course.post.id) == 2  # kept, resolved


def test_a_report_needs_a_reason_and_a_post_the_reporter_can_see(course):
    with pytest.raises(InvalidInput):
        report(course.bo, course.post.id, "x", NOW)
    private = log(course.ada, later(1), visibility="private").experiment
    with pytest.raises(NotFound):
        report(course.bo, private.id, "Cannot even see it", later(2))
    assert rows(Report) == 0


def test_reporting_a_restored_post_again_reaches_the_managers(course):
    """A post hidden on a report and later restored can be reported again by the same colleague: the new report
    is listed (with its reason), not swallowed by the first, resolved one."""
    report(course.bo, course.post.id, "Names a client", later(1))
    hide(course.boss, course.post.id, "Client named", later(2))
    unhide(course.boss, course.post.id, later(3))
    assert open_reports(course.boss) == []
    report(course.bo, course.post.id, "The client is still named in the edit", later(4))
    assert [(r.reporter_id, r.reason, r.resolved_at) for r, _e in open_reports(course.boss)] == [
        (course.bo.user_id, "The client is still named in the edit", None)]
    report(course.bo, course.post.id, "Clicked twice", later(5))  # an open report is not reopened or rewritten
    assert [r.reason for r, _e in open_reports(course.boss)] == ["The client is still named in the edit"]


def test_an_erased_learners_post_cannot_be_restored_to_the_library(course):
    """Erasure takes the person's posts out of the library; a manager's "Restore post" must not bring an
    "[erased]" card under the pseudonym back for everyone."""
    from plugin.errors import Conflict
    from plugin.privacy.erase import erase_person

    admin = make_actor(course.platform, "admin", Role.ADMIN)
    erase_person(admin, course.ada.user_id, later(1))
    with pytest.raises(Conflict):
        unhide(course.boss, course.post.id, later(2))
    assert course.post.id not in feed_ids(course.bo)


def test_regiving_a_reaction_after_a_recalculation_credits_the_author_again(course):
    from datetime import timedelta

    from plugin.community.service import react, withdraw_reaction
    from plugin.extensions import db
    from plugin.ledger.service import balances
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    def sharing():
        return balances(course.ada.course_id, course.ada.user_id).get("sharing", 0)

    create_rule(course.ada.organisation_id, {"name": "Well received", "condition": "reactions_received",
                                             "params": {"count": 1}, "points": 10, "dimension": "sharing",
                                             "repeatable": False}, NOW)
    before = sharing()
    react(course.bo, course.post.id, "helpful", NOW + timedelta(minutes=1))
    withdraw_reaction(course.bo, course.post.id, "helpful", NOW + timedelta(minutes=2))
    db.session.commit()
    replay(course.ada.organisation_id, NOW + timedelta(minutes=3), apply=True)
    db.session.commit()
    assert sharing() == before
    assert react(course.bo, course.post.id, "helpful", NOW + timedelta(minutes=4)) is True
    db.session.commit()
    assert sharing() == before + 10  # the reaction stands and the rule is met
