"""Manager recognition: kudos within a monthly budget, manual badges, revocation by reversing entries, and the
equity nudge for learners nobody has recognised lately."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from plugin.audit.models import AuditEvent
from plugin.badges.models import BadgeAward, BadgeClass
from plugin.badges.service import badges_of
from plugin.catalog.service import items
from plugin.core.actor import Role
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import balance, balances, verify_totals
from plugin.privacy.export import export_person
from plugin.recognition.history import explanations
from plugin.recognition.models import Kudos
from plugin.recognition.service import (
    award_badge_manually,
    budget,
    give_kudos,
    revoke_badge,
    revoke_kudos,
    unrecognised,
)
from tests.services.factories import NOW, later, log, make_actor, make_platform
from tests.support.migrating import migrated_app, step_back_and_upgrade

APRIL = datetime(2025, 4, 1, 8, 0, tzinfo=timezone.utc)
REFLECTION = "It invented a figure; I now check every number."


@pytest.fixture
def course(appctx):
    platform = make_platform()
    return SimpleNamespace(platform=platform, boss=make_actor(platform, "boss", Role.MANAGER),
                           admin=make_actor(platform, "admin", Role.ADMIN), ada=make_actor(platform, "ada"),
                           bo=make_actor(platform, "bo"))


def kudos(giver, receiver, points=0, key=None, now=NOW, **kw) -> Kudos:
    key = key or f"k-{giver.course_id}-{giver.user_id}-{receiver.user_id}-{points}-{now:%m%d%H%M}"
    return give_kudos(giver, receiver_id=receiver.user_id, message="Great prompt library, thank you", now=now,
                      submission_key=key, points=points, **kw)


def rows(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def badge(actor, slug: str) -> BadgeClass:
    return db.session.scalar(select(BadgeClass).where(BadgeClass.organisation_id == actor.organisation_id,
                                                      BadgeClass.slug == slug))


def badge_names(actor) -> list[str]:
    return sorted(b.name for _award, b in badges_of(actor.course_id, actor.user_id))


def test_kudos_within_budget_posts_points_and_is_audited(course):
    value = items(course.ada.organisation_id, "values")[0]
    given = kudos(course.boss, course.ada, points=30, value_tag_id=value.id)
    db.session.commit()
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.user_id == course.ada.user_id))
    assert (entry.source_type, entry.source_id, entry.amount, entry.dimension) == (
        "kudos", given.id, 30, "experimenting")
    assert balance(course.ada.course_id, course.ada.user_id) == 30
    assert budget(course.boss, NOW).left == 70
    [event] = audit("kudos.given")
    assert (event.actor_user_id, event.target_id, event.details) == (
        course.boss.user_id, given.id, {"receiver": course.ada.user_id, "points": 30})


def test_kudos_beyond_the_budget_are_refused_naming_what_is_left(course):
    kudos(course.boss, course.ada, points=60)
    with pytest.raises(Conflict) as err:
        kudos(course.boss, course.bo, points=50)
    assert "40 points left" in err.value.message
    assert "points" in err.value.errors
    assert rows(Kudos) == 1 and balance(course.bo.course_id, course.bo.user_id) == 0
    kudos(course.boss, course.bo, points=40)  # exactly what is left
    assert budget(course.boss, NOW).left == 0
    kudos(course.boss, course.bo, points=0, now=later(1))  # words cost nothing
    assert rows(Kudos) == 3


def test_kudos_points_far_beyond_the_budget_are_refused_like_any_others(course):
    """The largest whole number a form takes, on top of points already spent: refused (it overflowed the database's
    integer sum on PostgreSQL, a server error), as past the most one kudos carries; beyond the budget but within
    that, refused naming what is left."""
    kudos(course.boss, course.ada, points=10)
    with pytest.raises(InvalidInput) as err:
        kudos(course.boss, course.bo, points=2**31 - 1)
    assert "At most 1000 points for one kudos." in err.value.message
    with pytest.raises(Conflict) as err:
        kudos(course.boss, course.bo, points=1000)
    assert "90 points left" in err.value.message
    assert budget(course.boss, NOW).spent == 10 and balance(course.bo.course_id, course.bo.user_id) == 0


def test_the_budget_is_per_manager_per_course_per_month(course):
    kudos(course.boss, course.ada, points=100)
    with pytest.raises(Conflict):
        kudos(course.boss, course.ada, points=1, now=later(1))
    other_manager = make_actor(course.platform, "boss-2", Role.MANAGER)
    kudos(other_manager, course.ada, points=100)
    boss_elsewhere = make_actor(course.platform, "boss", Role.MANAGER, context_id="course-2")
    ada_elsewhere = make_actor(course.platform, "ada", context_id="course-2")
    kudos(boss_elsewhere, ada_elsewhere, points=100)
    kudos(course.boss, course.ada, points=100, now=APRIL)  # a new month starts afresh
    assert budget(course.boss, NOW).left == 0 and budget(course.boss, APRIL).left == 0
    assert balance(course.ada.course_id, course.ada.user_id) == 300
    assert balance(ada_elsewhere.course_id, ada_elsewhere.user_id) == 100


def test_nobody_gives_kudos_to_themselves(course):
    with pytest.raises(Forbidden):
        kudos(course.boss, course.boss, points=10)
    assert rows(Kudos) == 0 and budget(course.boss, NOW).spent == 0


def test_learners_cannot_give_kudos(course):
    with pytest.raises(Forbidden):
        kudos(course.ada, course.bo)
    assert rows(Kudos) == 0


def test_kudos_to_someone_outside_the_course_are_refused(course):
    outsider = make_actor(course.platform, "zed", context_id="course-2")
    with pytest.raises(InvalidInput):
        kudos(course.boss, outsider, points=10)
    assert rows(Kudos) == 0


def test_kudos_with_a_foreign_value_or_an_unknown_dimension_are_refused(course):
    other = make_platform("https://other-lms.example.com", "client-9", organisation="Org B")
    with pytest.raises(InvalidInput) as err:
        kudos(course.boss, course.ada, points=10, value_tag_id=items(other.organisation_id, "values")[0].id)
    assert "value_tag" in err.value.errors
    with pytest.raises(InvalidInput) as err:
        kudos(course.boss, course.ada, points=10, dimension="glory")
    assert "dimension" in err.value.errors
    assert rows(Kudos) == 0 and budget(course.boss, NOW).spent == 0


def test_staff_receive_kudos_without_points(course):
    colleague = make_actor(course.platform, "boss-2", Role.MANAGER)
    given = kudos(course.boss, colleague)
    assert given.id and rows(LedgerEntry) == 0
    with pytest.raises(InvalidInput) as err:
        kudos(course.boss, colleague, points=10)
    assert "points" in err.value.errors
    assert budget(course.boss, NOW).spent == 0
    assert balances(colleague.course_id, colleague.user_id) == {}


@pytest.mark.parametrize("key", ["", "k" * 65])
def test_kudos_from_a_form_without_a_usable_submission_key_are_refused(course, key):
    """A key longer than the kudos keep was a server error on PostgreSQL; an empty one made every later empty-key
    kudos of the manager answer "sent" with the first one, sending nothing."""
    with pytest.raises(InvalidInput):
        give_kudos(course.boss, receiver_id=course.ada.user_id, message="Great prompt library", now=NOW,
                   submission_key=key, points=5)
    assert rows(Kudos) == 0 and budget(course.boss, NOW).spent == 0


def test_the_same_submission_twice_gives_one_kudos(course):
    first = kudos(course.boss, course.ada, points=20, key="kudos-form-0001")
    again = kudos(course.boss, course.ada, points=20, key="kudos-form-0001")
    db.session.commit()
    assert again.id == first.id
    assert rows(Kudos) == 1 and rows(LedgerEntry) == 1
    assert balance(course.ada.course_id, course.ada.user_id) == 20
    assert budget(course.boss, NOW).spent == 20


def test_a_submission_key_is_the_givers_in_one_course(course):
    """The key was unique across the deployment: the same manager's key in a second course gave back the first
    course's kudos (nothing given there), and another manager's equal key was refused as "already used". An API
    client numbering its own requests hits both."""
    here = kudos(course.boss, course.ada, points=5, key="request-1")
    elsewhere_ada = make_actor(course.platform, "ada", context_id="course-2")
    boss_elsewhere = make_actor(course.platform, "boss", Role.MANAGER, context_id="course-2")
    there = kudos(boss_elsewhere, elsewhere_ada, points=7, key="request-1")
    other_boss = make_actor(course.platform, "boss-2", Role.MANAGER)
    from_other = kudos(other_boss, course.bo, key="request-1")
    db.session.commit()
    assert len({here.id, there.id, from_other.id}) == 3
    assert (there.course_id, there.points) == (elsewhere_ada.course_id, 7)
    assert balance(elsewhere_ada.course_id, elsewhere_ada.user_id) == 7
    assert kudos(boss_elsewhere, elsewhere_ada, points=7, key="request-1").id == there.id  # a retry: the same one
    assert rows(Kudos) == 3


def test_revoking_kudos_reverses_the_points_and_refunds_the_budget(course):
    given = kudos(course.boss, course.ada, points=30)
    db.session.commit()
    original = db.session.scalar(select(LedgerEntry).where(LedgerEntry.source_type == "kudos"))
    revoke_kudos(course.boss, given.id, "Given to the wrong person", later(60))
    db.session.commit()
    db.session.expire_all()
    entries = list(db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))
    assert [(e.id, e.amount, e.reverses_id) for e in entries] == [
        (original.id, 30, None), (entries[1].id, -30, original.id)]
    assert balance(course.ada.course_id, course.ada.user_id) == 0
    assert budget(course.boss, NOW).left == 100
    assert (given.revoked_at, given.revoked_reason) == (later(60), "Given to the wrong person")
    [event] = audit("kudos.revoked")
    assert event.details == {"reason": "Given to the wrong person"} and event.target_id == given.id
    revoke_kudos(course.boss, given.id, "Clicked twice", later(61))
    assert rows(LedgerEntry) == 2 and len(audit("kudos.revoked")) == 1
    assert verify_totals() == []


def test_only_the_giver_or_an_admin_revokes_kudos_and_with_a_reason(course):
    given = kudos(course.boss, course.ada, points=30)
    other_manager = make_actor(course.platform, "boss-2", Role.MANAGER)
    for someone in (other_manager, course.ada):
        with pytest.raises(Forbidden):
            revoke_kudos(someone, given.id, "Not mine to revoke", later(1))
    with pytest.raises(InvalidInput):
        revoke_kudos(course.boss, given.id, " ", later(1))
    assert given.revoked_at is None
    revoke_kudos(course.admin, given.id, "Duplicate of an earlier kudos", later(2))
    assert balance(course.ada.course_id, course.ada.user_id) == 0


def test_a_manager_of_another_course_cannot_revoke_anything_here(course):
    given = kudos(course.boss, course.ada, points=30)
    award_id = award_badge_manually(course.boss, receiver_id=course.ada.user_id,
                                    badge_id=badge(course.ada, "champion").id, comment="Ran the clinic", now=NOW)
    elsewhere = make_actor(course.platform, "boss", Role.ADMIN, context_id="course-2")
    with pytest.raises(NotFound):
        revoke_kudos(elsewhere, given.id, "Not my course", later(1))
    with pytest.raises(NotFound):
        revoke_badge(elsewhere, award_id, "Not my course", later(1))
    assert balance(course.ada.course_id, course.ada.user_id) == 30 and badge_names(course.ada) == ["Champion"]


def test_a_manager_awards_champion_once_with_comment_and_evidence(course):
    champion = badge(course.ada, "champion")
    award_id = award_badge_manually(course.boss, receiver_id=course.ada.user_id, badge_id=champion.id,
                                    comment="Ran the prompt clinic for the team", now=NOW,
                                    evidence_url="https://intranet.example.edu/clinic")
    db.session.commit()
    award = db.session.get(BadgeAward, award_id)
    assert (award.awarded_by_id, award.comment, award.evidence_url) == (
        course.boss.user_id, "Ran the prompt clinic for the team", "https://intranet.example.edu/clinic")
    assert badge_names(course.ada) == ["Champion"]
    assert [(e.badge.name, e.why) for e in explanations(course.ada) if e.badge] == [
        ("Champion", "Awarded by Person boss: Ran the prompt clinic for the team")]  # what the learner reads
    # ... once: no second "Awarded by a manager" after the giver's own words
    assert [e.source for e in explanations(course.ada) if e.badge] == [""]
    assert [e.details for e in audit("badge.awarded")] == [{"badge": champion.id, "receiver": course.ada.user_id}]
    with pytest.raises(Conflict) as err:
        award_badge_manually(course.boss, receiver_id=course.ada.user_id, badge_id=champion.id,
                             comment="Again", now=later(1))
    assert "Champion" in err.value.message
    assert rows(BadgeAward) == 1


@pytest.mark.parametrize("case", ["rule badge", "bad evidence", "long evidence", "staff receiver", "no comment"])
def test_manual_awards_are_refused_when_they_make_no_sense(course, case):
    receiver, slug, comment, evidence = course.ada, "champion", "Ran the prompt clinic", None
    if case == "rule badge":
        slug = "explorer"
    elif case == "bad evidence":
        evidence = "javascript:alert(1)"
    elif case == "long evidence":  # longer than the award keeps (a server error on PostgreSQL)
        evidence = "https://files.example/" + "a" * 1000
    elif case == "staff receiver":
        receiver = make_actor(course.platform, "boss-2", Role.MANAGER)
    else:
        comment = ""
    with pytest.raises(InvalidInput):
        award_badge_manually(course.boss, receiver_id=receiver.user_id, badge_id=badge(course.ada, slug).id,
                             comment=comment, now=NOW, evidence_url=evidence)
    assert rows(BadgeAward) == 0


def test_learners_cannot_award_badges(course):
    with pytest.raises(Forbidden):
        award_badge_manually(course.ada, receiver_id=course.bo.user_id, badge_id=badge(course.ada, "champion").id,
                             comment="My friend is great", now=NOW)


def test_revoking_a_rule_badge_reverses_the_points_of_that_firing(course):
    log(course.ada, outcome="failed", learned=REFLECTION)  # Fail Forward: badge and 10 sharing points
    assert balances(course.ada.course_id, course.ada.user_id) == {"experimenting": 10, "sharing": 10, "total": 20}
    award = db.session.scalar(select(BadgeAward).where(BadgeAward.badge_id == badge(course.ada, "fail-forward").id))
    before = {e.id: e.amount for e in db.session.scalars(select(LedgerEntry))}
    with pytest.raises(Forbidden):
        revoke_badge(course.ada, award.id, "I do not deserve it", later(1))
    revoke_badge(course.boss, award.id, "The failure was copied from a colleague", later(5))
    db.session.commit()
    db.session.expire_all()
    award = db.session.get(BadgeAward, award.id)
    assert (award.revoked_at, award.revoked_reason) == (later(5), "The failure was copied from a colleague")
    assert balances(course.ada.course_id, course.ada.user_id) == {"experimenting": 10, "sharing": 0, "total": 10}
    assert {e.id: e.amount for e in db.session.scalars(select(LedgerEntry).where(LedgerEntry.id.in_(before)))} == before
    assert badge_names(course.ada) == ["First experiment"]
    assert [e.details for e in audit("badge.revoked")] == [{"reason": "The failure was copied from a colleague"}]
    assert verify_totals() == []
    assert [e.why for e in explanations(course.ada) if e.points < 0] == [
        "Reversed: Fail Forward (rule version 1) (badge revoked: “The failure was copied from a colleague”)"]
    [exported] = [a for a in export_person(course.ada.organisation_id, course.ada.user_id)["badge_awards"]
                  if a["revoked_at"]]
    assert (exported["revoked_reason"], exported["unearned"]) == ("The failure was copied from a colleague", False)
    # A manager's revocation stands: another shared failure does not earn the once-only badge back (where one taken
    # back because the kudos behind it was revoked is earned again).
    log(course.ada, later(10), outcome="failed", learned=REFLECTION, task_category=items(
        course.ada.organisation_id, "categories")[1].id)
    assert badge_names(course.ada) == ["First experiment"]
    assert balances(course.ada.course_id, course.ada.user_id)["sharing"] == 0


def test_revoking_the_badge_whose_points_crossed_a_level_takes_the_level_award_back_too(course):
    """Three tools (3 x 10) and then Explorer's 15 points take Ada to 45, past a 40-point level whose rule pays 5 and
    a badge. Revoking Explorer takes back its 15 and what they earned: the level's award (she is at 30, under the
    level), as revoking kudos takes back what the kudos earned; a replay then finds nothing to change."""
    from plugin.badges.service import get_or_create_badge
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    org = course.ada.organisation_id
    medal = get_or_create_badge(org, "explorer-level", NOW, name="Explorer level", manual=False)
    create_rule(org, {"name": "Reached Explorer", "condition": "level_reached",
                      "params": {"level": "Explorer", "threshold": 40}, "points": 5, "dimension": "experimenting",
                      "badge_id": medal.id, "repeatable": False}, NOW)
    for n, tool in enumerate(items(org, "tools")[:3]):
        log(course.ada, later(n), ai_tool=str(tool.id))
    assert balance(course.ada.course_id, course.ada.user_id) == 50  # 30 + Explorer's 15 + the level's 5
    assert "Explorer level" in badge_names(course.ada)
    explorer = db.session.scalar(select(BadgeAward).where(BadgeAward.badge_id == badge(course.ada, "explorer").id))
    revoke_badge(course.boss, explorer.id, "Two of those tools were the same one", later(10))
    db.session.commit()
    assert balance(course.ada.course_id, course.ada.user_id) == 30
    assert "Explorer level" not in badge_names(course.ada)
    level_award = db.session.scalar(select(BadgeAward).where(BadgeAward.badge_id == medal.id))
    assert (level_award.revoked_reason, level_award.unearned) == ("Two of those tools were the same one", True)
    assert verify_totals() == []
    report = replay(org, later(11))
    assert report.empty, (report.points, report.lost_badges)


def test_revoking_a_manual_badge_marks_it_revoked(course):
    award_id = award_badge_manually(course.boss, receiver_id=course.ada.user_id,
                                    badge_id=badge(course.ada, "champion").id, comment="Ran the clinic", now=NOW)
    revoke_badge(course.boss, award_id, "Awarded by mistake", later(1))
    assert badge_names(course.ada) == [] and rows(LedgerEntry) == 0


def test_a_manual_badge_revoked_by_mistake_can_be_awarded_again(course):
    """Revoked, the learner no longer holds it: awarding it again must work (not "They already hold Champion"),
    while the revoked assertion stays revoked for verifiers."""
    champion = badge(course.ada, "champion").id
    first = award_badge_manually(course.boss, receiver_id=course.ada.user_id, badge_id=champion,
                                 comment="Ran the clinic", now=NOW)
    revoke_badge(course.boss, first, "Revoked the wrong learner's badge", later(1))
    again = award_badge_manually(course.boss, receiver_id=course.ada.user_id, badge_id=champion,
                                 comment="Ran the clinic (restored)", now=later(2))
    db.session.commit()
    assert again != first and badge_names(course.ada) == ["Champion"]
    assert db.session.get(BadgeAward, first).revoked_at == later(1)
    assert db.session.get(BadgeAward, again).public_id != db.session.get(BadgeAward, first).public_id
    with pytest.raises(Conflict):  # held again: a second award is still refused
        award_badge_manually(course.boss, receiver_id=course.ada.user_id, badge_id=champion, comment="Twice",
                             now=later(3))
    revoke_badge(course.boss, again, "Revoked once more", later(4))
    third = award_badge_manually(course.boss, receiver_id=course.ada.user_id, badge_id=champion,
                                 comment="Third time", now=later(5))
    assert badge_names(course.ada) == ["Champion"] and third not in (first, again)


def test_a_badge_held_from_elsewhere_is_not_awarded_again_by_hand(course):
    """Held through another way in (a challenge's, a rule's or the demo's award under a key of its own), the badge
    is not given twice: the manager is told they hold it, and the learner's badges show it once."""
    from plugin.badges.service import BadgeGrant, award_badge

    champion = badge(course.ada, "champion")
    award_badge(BadgeGrant(badge_id=champion.id, organisation_id=course.ada.organisation_id,
                           course_id=course.ada.course_id, user_id=course.ada.user_id, key="challenge:7:champion",
                           source_type="challenge", source_id=7), NOW)
    with pytest.raises(Conflict, match="They already hold Champion"):
        award_badge_manually(course.boss, receiver_id=course.ada.user_id, badge_id=champion.id,
                             comment="Ran the clinic", now=later(1))
    from flask_babel import force_locale

    with force_locale("tr"), pytest.raises(Conflict, match="Şampiyon rozeti zaten onda var"):  # the seeded name, in Turkish
        award_badge_manually(course.boss, receiver_id=course.ada.user_id, badge_id=champion.id,
                             comment="Ran the clinic", now=later(1))
    assert badge_names(course.ada) == ["Champion"]
    assert rows(BadgeAward, BadgeAward.badge_id == champion.id) == 1


def test_kudos_points_that_reach_a_level_award_the_level_rule_at_once(course):
    """A manager's kudos points move the learner's totals like any points: a "level reached" rule fires then, not
    only after some later activity happens to post points, and a recalculation finds nothing to change."""
    from plugin.badges.service import get_or_create_badge
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    level_badge = get_or_create_badge(course.ada.organisation_id, "explorer-level", NOW, name="Explorer level")
    create_rule(course.ada.organisation_id, {"name": "Reached Explorer", "condition": "level_reached",
                                             "params": {"level": "Explorer", "threshold": 40},
                                             "badge_id": level_badge.id, "repeatable": False}, NOW)
    log(course.ada)  # 10 points: still Curious
    assert "Explorer level" not in badge_names(course.ada)
    kudos(course.boss, course.ada, points=30, now=later(5))  # 40: Explorer
    assert balance(course.ada.course_id, course.ada.user_id) == 40
    assert "Explorer level" in badge_names(course.ada)
    assert replay(course.ada.organisation_id, later(10)).empty


def test_kudos_points_count_in_their_dimension_for_a_recalculation_as_they_do_live(course):
    """Kudos points go to a dimension (here Helping): a "points in a dimension" rule counts them live, so a
    recalculation must count them too, not report the badge as no longer earned."""
    from plugin.badges.service import get_or_create_badge
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    helpful = get_or_create_badge(course.ada.organisation_id, "helpful", NOW, name="Helpful")
    create_rule(course.ada.organisation_id, {"name": "Helpful", "condition": "points_in_dimension",
                                             "params": {"dimension": "helping", "points": 30},
                                             "badge_id": helpful.id, "repeatable": False}, NOW)
    kudos(course.boss, course.ada, points=30, dimension="helping")
    assert balances(course.ada.course_id, course.ada.user_id)["helping"] == 30
    assert "Helpful" in badge_names(course.ada)
    report = replay(course.ada.organisation_id, later(10))
    assert report.lost_badges == [] and report.empty


def test_a_revoked_badge_is_no_longer_announced_on_the_experiments_saved_page(course):
    """The "Experiment saved" page (reloaded, or opened again from history) lists the badges the experiment
    earned: one revoked since is no longer the learner's, so it is not announced as a new badge."""
    from plugin.badges.service import awards_for_source

    logged = log(course.ada)
    assert [b.name for b in awards_for_source(course.ada.course_id, course.ada.user_id, "experiment",
                                              logged.experiment.id)] == ["First experiment"]
    award = db.session.scalar(select(BadgeAward).where(BadgeAward.user_id == course.ada.user_id))
    revoke_badge(course.boss, award.id, "Logged by mistake", later(1))
    assert awards_for_source(course.ada.course_id, course.ada.user_id, "experiment", logged.experiment.id) == []


def test_unrecognised_lists_active_learners_without_recognition_in_30_days(course):
    cy, dee, eve = (make_actor(course.platform, sub) for sub in ("cy", "dee", "eve"))
    log(course.ada, later(1))                              # active, never recognised
    log(course.bo, later(2))                               # active, got kudos
    kudos(course.boss, course.bo, now=later(3))
    log(cy, NOW - timedelta(days=40))                      # not active lately
    log(dee, later(4))                                     # active, got a manual badge
    award_badge_manually(course.boss, receiver_id=dee.user_id, badge_id=badge(dee, "champion").id,
                         comment="Ran the clinic", now=later(5))
    log(eve, later(6))                                     # recognised long ago only
    kudos(course.boss, eve, now=NOW - timedelta(days=35))
    log(course.boss, later(7))                             # staff are not nudged about
    make_actor(course.platform, "fay")                     # never logged anything
    assert unrecognised(course.boss, later(10)) == [course.ada.user_id, eve.user_id]
    with pytest.raises(Forbidden):
        unrecognised(course.ada, later(10))


def test_revoked_kudos_no_longer_count_as_recognition(course):
    log(course.ada)
    given = kudos(course.boss, course.ada, now=later(1))
    assert unrecognised(course.boss, later(2)) == []
    revoke_kudos(course.boss, given.id, "Given by mistake", later(3))
    assert unrecognised(course.boss, later(4)) == [course.ada.user_id]


def test_a_revoked_manual_badge_no_longer_counts_as_recognition(course):
    log(course.ada)
    award_id = award_badge_manually(course.boss, receiver_id=course.ada.user_id,
                                    badge_id=badge(course.ada, "champion").id, comment="Ran the clinic", now=later(1))
    revoke_badge(course.boss, award_id, "Awarded by mistake", later(2))
    assert unrecognised(course.boss, later(3)) == [course.ada.user_id]


def test_the_kudos_month_turns_at_midnight_in_the_organisations_time_zone(course):
    from plugin.settings.models import OrganisationSettings

    db.session.get(OrganisationSettings, course.boss.organisation_id).time_zone = "Europe/Istanbul"
    march_31_late_utc = datetime(2025, 3, 31, 21, 30, tzinfo=timezone.utc)  # already 1 April in Istanbul
    kudos(course.boss, course.ada, points=100, now=march_31_late_utc - timedelta(hours=1))  # 31 March there
    kudos(course.boss, course.ada, points=100, now=march_31_late_utc)  # April's budget, not March's
    assert budget(course.boss, march_31_late_utc).month == "2025-04"
    assert budget(course.boss, march_31_late_utc).left == 0


def test_revoking_kudos_takes_back_what_the_kudos_rules_gave_for_it(course):
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    create_rule(course.ada.organisation_id, {"name": "Kudos received", "condition": "each_kudos", "points": 5,
                                             "dimension": "experimenting"}, NOW)
    given = kudos(course.boss, course.ada, points=20)
    assert balance(course.ada.course_id, course.ada.user_id) == 25
    revoke_kudos(course.boss, given.id, "Given to the wrong person", later(60))
    assert balance(course.ada.course_id, course.ada.user_id) == 0
    assert replay(course.ada.organisation_id, later(61), apply=False).empty  # nothing left for a replay to correct
    assert verify_totals() == []
    # Ada's history says why both rows were taken back, in the manager's words; her export says it too.
    assert sorted(e.why for e in explanations(course.ada) if e.points < 0) == [
        "Reversed: Kudos points (kudos revoked: “Given to the wrong person”)",
        "Reversed: Kudos received (rule version 1) (kudos revoked: “Given to the wrong person”)"]
    exported = export_person(course.ada.organisation_id, course.ada.user_id)["ledger"]
    assert sorted((e["amount"], e["reversal_cause"], e["reversal_reason"]) for e in exported) == [
        (-20, "kudos_revoked", "Given to the wrong person"), (-5, "kudos_revoked", "Given to the wrong person"),
        (5, None, None), (20, None, None)]


@pytest.mark.parametrize("then", ["rule archived", "receiver made staff"])
def test_revoking_kudos_takes_back_its_rule_awards_even_where_no_rule_would_give_them_now(course, then):
    """What the kudos rules gave for the kudos goes with it when the rule has been archived since, or when the
    receiver is staff now (a TA promoted after the kudos): the rules give them nothing without the kudos either."""
    from plugin.badges.service import get_or_create_badge
    from plugin.rules.definitions import create_rule, delete_rule

    medal = get_or_create_badge(course.ada.organisation_id, "thanked", NOW, name="Thanked")
    each = create_rule(course.ada.organisation_id, {"name": "Kudos received", "condition": "each_kudos",
                                                    "points": 5, "dimension": "experimenting", "badge_id": medal.id},
                       NOW)
    given = kudos(course.boss, course.ada, points=20)
    assert balance(course.ada.course_id, course.ada.user_id) == 25 and "Thanked" in badge_names(course.ada)
    if then == "rule archived":
        delete_rule(course.admin, each.id, later(30))  # it awarded: archived
    else:
        make_actor(course.platform, "ada", Role.MANAGER)
    revoke_kudos(course.boss, given.id, "Given to the wrong person", later(60))
    assert balance(course.ada.course_id, course.ada.user_id) == 0
    assert "Thanked" not in badge_names(course.ada)
    assert verify_totals() == []


def test_revoking_kudos_refunds_the_month_it_was_spent_in_after_a_time_zone_change(course):
    from plugin.leaderboards import service as boards
    from plugin.recognition.models import KudosBudget

    late_march = datetime(2025, 3, 31, 22, 30, tzinfo=timezone.utc)  # March in UTC, already April in Istanbul
    given = kudos(course.boss, course.ada, points=30, now=late_march)
    boards.change_time_zone(course.admin, "Europe/Istanbul", late_march)
    revoke_kudos(course.boss, given.id, "Given to the wrong person", late_march + timedelta(minutes=5))
    assert dict(db.session.execute(select(KudosBudget.month, KudosBudget.spent)).all()) == {"2025-03": 0}


def test_the_migration_gives_kudos_given_before_it_their_budget_month(tmp_path):
    from plugin.settings.models import OrganisationSettings

    with migrated_app(tmp_path):
        platform = make_platform()
        boss, ada = make_actor(platform, "boss", Role.MANAGER), make_actor(platform, "ada")
        db.session.get(OrganisationSettings, platform.organisation_id).time_zone = "Europe/Istanbul"
        late_march = datetime(2025, 3, 31, 22, 30, tzinfo=timezone.utc)  # April in Istanbul
        with_points = kudos(boss, ada, points=30, now=late_march).id
        without = kudos(boss, ada, points=0, now=late_march).id
        step_back_and_upgrade("0028")
        assert db.session.get(Kudos, with_points).budget_month == "2025-04"
        assert db.session.get(Kudos, without).budget_month is None


def test_an_erased_learner_receives_no_kudos_badge_or_nudge(course):
    """After erasure the account stays for its ids and points but names nobody: kudos would store a new message
    about the person and spend budget points on an account nobody uses; a badge would re-attach a record to it."""
    from plugin.privacy.erase import erase_person

    log(course.bo, later(1))
    erase_person(course.admin, course.bo.user_id, later(2))
    assert unrecognised(course.boss, later(3)) == []
    with pytest.raises(InvalidInput):
        kudos(course.boss, course.bo, points=10, now=later(3))
    with pytest.raises(InvalidInput):
        award_badge_manually(course.boss, receiver_id=course.bo.user_id, badge_id=badge(course.bo, "champion").id,
                             comment="Ran the clinic", now=later(4))
    assert rows(Kudos, Kudos.receiver_id == course.bo.user_id) == 0
    assert rows(BadgeAward, BadgeAward.user_id == course.bo.user_id, BadgeAward.awarded_by_id.is_not(None)) == 0
    assert budget(course.boss, later(5)).spent == 0


def test_the_nudge_leaves_out_learners_who_left_and_the_lms_test_student(course):
    """Learners who left the course, and the LMS's test student (a teacher trying the student view), count nowhere
    else: the "not yet recognised" nudge does not ask managers to recognise them either."""
    from sqlalchemy import update

    from plugin.tenancy.models import INACTIVE, Membership

    fake = make_actor(course.platform, "test-student")
    for learner in (course.ada, course.bo, fake):
        log(learner, later(1))
    db.session.execute(update(Membership).where(Membership.user_id == course.bo.user_id).values(status=INACTIVE))
    db.session.execute(update(Membership).where(Membership.user_id == fake.user_id).values(test_user=True))
    assert unrecognised(course.boss, later(2)) == [course.ada.user_id]


def _switch(admin, slug: str, active: bool) -> BadgeClass:
    from plugin.badges.service import save_badge

    b = badge(admin, slug)
    return save_badge(admin, b.id, name=b.name, description=b.description, criteria=b.criteria, colour=b.colour,
                      manual=b.manual, active=active, now=later(1))


def test_a_badge_switched_off_is_no_longer_awarded_by_rules_and_holders_keep_it(course):
    """An admin switches a badge off: rules stop issuing it (their points still come), as a manager can no longer
    award a switched-off badge by hand; whoever earned it before keeps it; switched on again, it is earned again."""
    tools = [str(t.id) for t in items(course.ada.organisation_id, "tools")[:3]]
    log(course.bo, later(0))  # Bo's first experiment: "First experiment" while it is on
    assert "First experiment" in badge_names(course.bo)
    _switch(course.admin, "first-experiment", False)
    _switch(course.admin, "explorer", False)
    for n, tool in enumerate(tools):
        log(course.ada, later(10 + n), ai_tool=tool)
    assert badge_names(course.ada) == []
    assert balance(course.ada.course_id, course.ada.user_id) == 3 * 10 + 15  # the Explorer rule's points still come
    assert "First experiment" in badge_names(course.bo)  # held before it was switched off: kept
    _switch(course.admin, "first-experiment", True)
    log(course.ada, later(20), ai_tool=tools[0], task_category=items(course.ada.organisation_id, "categories")[1].id)
    assert badge_names(course.ada) == ["First experiment"]




def test_a_level_reached_after_an_unrelated_kudos_was_revoked_is_still_awarded(course):
    """Kudos points push Ada over a level; the kudos are revoked (given to the wrong person), which rightly takes the
    level back. Then Ada earns the same points herself: the level is hers again, badge and points (found by a ledger
    review: the level's award, reversed, still counted as given and its key was spent, so it never came back). The
    revocation unearns the award rather than revoking it, and a replay then finds nothing to change."""
    from plugin.badges.service import get_or_create_badge
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    org = course.ada.organisation_id
    level = get_or_create_badge(org, "explorer-level", NOW, name="Explorer level")
    reached = create_rule(org, {"name": "Reached Explorer", "condition": "level_reached",
                                "params": {"level": "Explorer", "threshold": 40}, "points": 5, "badge_id": level.id,
                                "repeatable": False}, NOW)
    log(course.ada, NOW)  # 10 points
    given = kudos(course.boss, course.ada, 30, "kudos-wrong-person", later(1))  # 40: Explorer
    assert "Explorer level" in badge_names(course.ada)
    revoke_kudos(course.boss, given.id, "Meant for someone else", later(2))
    assert balance(course.ada.course_id, course.ada.user_id) == 10 and "Explorer level" not in badge_names(course.ada)

    categories = [c.id for c in items(org, "categories")[1:4]]  # new kinds of task: no diminishing returns
    for minute, category in enumerate(categories):  # 10 + 3 x 10 = 40 points of her own
        log(course.ada, later(10 + minute), task_category=category)
    db.session.commit()
    assert balance(course.ada.course_id, course.ada.user_id) >= 40
    assert "Explorer level" in badge_names(course.ada)
    explorer = [e.amount for e in db.session.scalars(select(LedgerEntry).where(
        LedgerEntry.user_id == course.ada.user_id, LedgerEntry.rule_id == reached.id).order_by(LedgerEntry.id))]
    assert explorer == [5, -5, 5]  # given, unearned with the kudos, given again (under a key of its own)
    assert replay(org, later(20)).empty
    assert verify_totals() == []


def test_revoking_one_of_the_kudos_that_crossed_a_kudos_threshold_leaves_nothing_for_a_replay(course):
    """"Two kudos received" pays on the second kudos (its award names that kudos as its source). Revoking the first
    takes it back too: Ada no longer meets it (one kudos left), and a replay with no rule changed finds nothing to take
    back (found by a ledger review: only what named the revoked kudos was reversed)."""
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    org = course.ada.organisation_id
    create_rule(org, {"name": "Two kudos", "condition": "kudos_received", "params": {"count": 2}, "points": 15,
                      "dimension": "experimenting", "repeatable": False}, NOW)
    first = kudos(course.boss, course.ada, 0, "kudos-first-0001", later(1))
    kudos(course.boss, course.ada, 0, "kudos-second-001", later(2))
    assert balance(course.ada.course_id, course.ada.user_id) == 15
    revoke_kudos(course.boss, first.id, "Given by mistake", later(3))
    db.session.commit()
    assert verify_totals() == []
    report = replay(org, later(10))
    assert report.points == [], report.points
    assert balance(course.ada.course_id, course.ada.user_id) == 0  # one kudos left: "two kudos" is not met


def test_a_badge_taken_back_with_the_kudos_behind_it_is_earned_again_and_says_why_it_went(course):
    """"Recognised" (a badge, no points) comes with Ada's first kudos. That kudos is revoked: the badge goes with it,
    marked unearned with the revocation's reason. A later kudos earns it again, as a new award; revoking the new award
    by hand then stands (a third kudos brings nothing)."""
    from plugin.badges.service import get_or_create_badge
    from plugin.rules.definitions import create_rule

    org = course.ada.organisation_id
    medal = get_or_create_badge(org, "recognised", NOW, name="Recognised")
    create_rule(org, {"name": "Recognised", "condition": "kudos_received", "params": {"count": 1}, "points": 0,
                      "badge_id": medal.id, "repeatable": False}, NOW)
    first = kudos(course.boss, course.ada, 0, "kudos-first-0001", later(1))
    assert "Recognised" in badge_names(course.ada)
    revoke_kudos(course.boss, first.id, "Meant for someone else", later(2))
    assert "Recognised" not in badge_names(course.ada)
    gone = db.session.scalar(select(BadgeAward).where(BadgeAward.badge_id == medal.id))
    assert (gone.revoked_at, gone.revoked_reason, gone.unearned) == (later(2), "Meant for someone else", True)

    kudos(course.boss, course.ada, 0, "kudos-second-001", later(3))
    assert "Recognised" in badge_names(course.ada)
    again = db.session.scalar(select(BadgeAward).where(BadgeAward.badge_id == medal.id,
                                                       BadgeAward.revoked_at.is_(None)))
    assert again.id != gone.id
    revoke_badge(course.boss, again.id, "Kudos from a colleague who left", later(4))
    kudos(course.boss, course.ada, 0, "kudos-third-0001", later(5))
    assert "Recognised" not in badge_names(course.ada)
    assert rows(BadgeAward, BadgeAward.badge_id == medal.id) == 2


def test_a_kudos_revoked_before_its_rule_awards_were_settled_says_so_in_the_history(course):
    """Revocations saved before 2026-12-02 took the kudos rules' awards back under the key a manager's badge
    revocation uses (revoke:<entry>), revoking their badges with the kudos' reason. Ada's history said those points
    were "taken back by a manager" (no reason) or "badge revoked" (no badge was revoked by anyone), where they went
    because the kudos was revoked; a badge a manager revoked by itself still says so."""
    from plugin.badges.service import get_or_create_badge
    from plugin.ledger.service import reverse_entry
    from plugin.recognition.service import _claim_revocation, _reverse_source, _revoke_award
    from plugin.rules.definitions import create_rule

    org = course.ada.organisation_id
    medal = get_or_create_badge(org, "thanked", NOW, name="Thanked")
    create_rule(org, {"name": "Kudos received", "condition": "each_kudos", "points": 5,
                      "dimension": "experimenting"}, NOW)
    create_rule(org, {"name": "Thanked", "condition": "each_kudos", "points": 3, "badge_id": medal.id,
                      "dimension": "experimenting"}, NOW)
    old, kept = kudos(course.boss, course.ada, points=20), kudos(course.boss, course.ada, points=10, now=later(1))
    # What revoke_kudos did then (aeaa5b7): the kudos' points, its badges (revoked, not unearned), its rules' points.
    at = later(60)
    assert _claim_revocation(Kudos, old, at, "Given to the wrong person")
    reverse_entry(db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.idempotency_key == f"kudos:{old.id}")),
                  f"revoke:kudos:{old.id}", at)
    for award in db.session.scalars(select(BadgeAward).where(BadgeAward.source_type == "kudos",
                                                             BadgeAward.source_id == old.id)).all():
        _revoke_award(award, at, "Given to the wrong person")
    _reverse_source(course.ada.course_id, course.ada.user_id, "kudos", old.id, at, LedgerEntry.rule_id.is_not(None))
    # Now: a manager revokes the badge the other kudos earned.
    [award] = db.session.scalars(select(BadgeAward).where(BadgeAward.source_id == kept.id))
    revoke_badge(course.boss, award.id, "Shared someone else's prompts", later(61))
    assert sorted(e.why for e in explanations(course.ada) if e.points < 0) == [
        "Reversed: Kudos points (kudos revoked: “Given to the wrong person”)",
        "Reversed: Kudos received (rule version 1) (kudos revoked: “Given to the wrong person”)",
        "Reversed: Thanked (rule version 1) (badge revoked: “Shared someone else's prompts”)",
        "Reversed: Thanked (rule version 1) (kudos revoked: “Given to the wrong person”)"]
    exported = export_person(org, course.ada.user_id)["ledger"]
    assert sorted((e["amount"], e["reversal_cause"]) for e in exported if e["amount"] < 0) == [
        (-20, "kudos_revoked"), (-5, "kudos_revoked"), (-3, "badge_revoked"), (-3, "kudos_revoked")]
