"""Challenges and sandbox missions on the real database: progress kept as experiments are logged, window
edges, teams, completion once with its badge and rule, evidence reviews, and every query scoped by course."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select, update

from plugin.badges.models import BadgeAward
from plugin.badges.service import get_or_create_badge
from plugin.catalog.service import items
from plugin.challenges import missions, progress, queries
from plugin.challenges.models import (
    ACCEPTED,
    RETURNED,
    SUBMITTED,
    Challenge,
    ChallengeContribution,
    MissionEvidence,
)
from plugin.challenges.schemas import ChallengeIn, EvidenceIn, ReviewIn
from plugin.challenges.service import cancel_challenge, create_challenge, get_challenge, update_challenge
from plugin.core.actor import Role
from plugin.errors import Conflict, Forbidden, InvalidInput, NotFound
from plugin.extensions import db
from plugin.ledger.service import balances
from plugin.rules.definitions import create_rule
from plugin.settings.service import set_time_zone
from plugin.teams.service import add_member, ensure_team
from plugin.tenancy.models import INACTIVE, Membership
from tests.services.factories import NOW, log, make_actor, make_platform

UTC = timezone.utc
START = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)   # NOW is 09:00 that day; the organisation's zone is UTC
END = datetime(2025, 4, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def course(appctx):
    platform = make_platform()
    c = SimpleNamespace(platform=platform, manager=make_actor(platform, "boss", Role.MANAGER),
                        ada=make_actor(platform, "ada"), bo=make_actor(platform, "bo"),
                        cy=make_actor(platform, "cy"), dee=make_actor(platform, "dee"))
    org = c.ada.organisation_id
    c.categories = {x.name: x.id for x in items(org, "categories")}
    c.tools = {x.name: x.id for x in items(org, "tools")}
    c.design = c.categories["Assessment design"]
    c.other = next(i for n, i in c.categories.items() if n != "Assessment design")
    c.badge = get_or_create_badge(org, "team-player", NOW, name="Team player", manual=True)
    return c


def challenge_in(**overrides) -> dict:
    raw = {"title": "Twenty on assessment", "goal_kind": "count", "goal_value": "3",
           "starts_at": "2025-03-03T00:00", "ends_at": "2025-04-01T00:00"}
    raw.update({k: str(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in overrides.items()})
    return ChallengeIn().load(raw)


def make(course, actor=None, now=NOW, **overrides) -> Challenge:
    return create_challenge(actor or course.manager, challenge_in(**overrides), now)


def fresh(challenge: Challenge) -> Challenge:
    db.session.expire(challenge)
    return db.session.get(Challenge, challenge.id)


def badge_holders(course) -> list[int]:
    return sorted(db.session.scalars(select(BadgeAward.user_id).where(BadgeAward.badge_id == course.badge.id)))


# --- goals by count and by participation ---------------------------------------------------------------
def test_count_progress_counts_matching_experiments_of_learners_only(course):
    challenge = make(course, task_category=course.design, goal_value=3)
    log(course.ada, task_category=course.design)
    log(course.ada, task_category=course.other)          # another kind of task: not this challenge
    log(course.manager, task_category=course.design)     # staff lead by example but do not count
    log(course.bo, task_category=course.design)
    challenge = fresh(challenge)
    assert (challenge.progress_count, challenge.contributor_count, challenge.completed_at) == (2, 2, None)
    assert queries.progress_of(challenge).text == "2 of 3 experiments"
    log(course.bo, task_category=course.design, now=NOW + timedelta(hours=1))
    challenge = fresh(challenge)
    assert challenge.progress_count == 3 and challenge.completed_at == NOW + timedelta(hours=1)


def test_tool_filter_counts_only_that_tool(course):
    chatgpt, other_tool = course.tools["ChatGPT"], next(i for n, i in course.tools.items() if n != "ChatGPT")
    challenge = make(course, ai_tool=chatgpt, goal_value=5)
    log(course.ada, ai_tool=str(chatgpt))
    log(course.ada, ai_tool=str(other_tool))
    log(course.bo, ai_tool="other", ai_tool_other="Some new bot")
    assert fresh(challenge).progress_count == 1


def test_participation_is_the_share_of_active_learners_with_a_matching_experiment(course):
    challenge = make(course, goal_kind="participation", goal_value=50)
    db.session.execute(update(Membership).where(Membership.user_id == course.dee.user_id).values(status=INACTIVE))
    log(course.dee)                                       # inactive: neither counted nor in the denominator
    log(course.ada)
    log(course.ada)                                       # a second experiment is not a second person
    challenge = fresh(challenge)
    assert queries.progress_of(challenge).text == "33% of learners took part (1 of 3) — 67% of the way to the 50% goal"
    assert challenge.completed_at is None
    log(course.bo)
    challenge = fresh(challenge)
    assert challenge.contributor_count == 2 and challenge.completed_at is not None
    assert queries.progress_of(challenge).value == 67  # 2 of 3, rounded half up as the team board rounds


def test_window_is_half_open_an_experiment_at_the_start_counts_one_at_the_end_does_not(course):
    starts, ends = NOW + timedelta(hours=1), NOW + timedelta(days=2)
    challenge = make(course, goal_value=10, starts_at=starts.replace(tzinfo=None).isoformat(timespec="minutes"),
                     ends_at=ends.replace(tzinfo=None).isoformat(timespec="minutes"))
    log(course.ada, now=starts - timedelta(seconds=1))
    log(course.ada, now=starts)
    log(course.bo, now=ends - timedelta(seconds=1))
    log(course.cy, now=ends)
    challenge = fresh(challenge)
    assert challenge.progress_count == 2
    assert sorted(db.session.scalars(select(ChallengeContribution.user_id).where(
        ChallengeContribution.challenge_id == challenge.id))) == sorted([course.ada.user_id, course.bo.user_id])


def test_near_duplicates_do_not_count(course):
    challenge = make(course, goal_value=10)
    same = {"title": "Quiz from outcomes", "tried": "Asked for ten questions from the learning outcomes list."}
    log(course.ada, **same)
    duplicate = log(course.ada, now=NOW + timedelta(minutes=5), **same).experiment
    assert duplicate.duplicate_of_id is not None
    assert fresh(challenge).progress_count == 1


def test_a_team_challenge_counts_only_its_members_and_a_learner_in_two_teams_counts_for_both(course):
    red, blue = ensure_team(course.ada.course_id, "Red", NOW), ensure_team(course.ada.course_id, "Blue", NOW)
    add_member(red, course.ada.user_id)
    add_member(blue, course.ada.user_id)
    add_member(blue, course.bo.user_id)
    for_red = make(course, team=red.id, goal_kind="participation", goal_value=100, title="Red all in")
    for_blue = make(course, team=blue.id, goal_value=5, title="Blue five")
    log(course.ada)
    log(course.cy)                                       # in no team
    log(course.bo)
    assert fresh(for_red).progress_count == 1 and fresh(for_red).completed_at is not None  # Red is only Ada
    assert fresh(for_blue).progress_count == 2



def test_a_roster_sync_that_takes_a_learner_out_takes_them_out_of_open_challenges_progress(course):
    """Who counts is the course's active learners now, for the denominator and the board alike: a learner the LMS
    no longer lists left the progress too (it read '33% of learners took part (1 of 3)' with nobody left who did)."""
    from plugin.lti import roster
    from plugin.tenancy.service import RosterEntry

    challenge = make(course, goal_kind="participation", goal_value=100)
    log(course.ada)
    assert queries.progress_of(fresh(challenge)).text.startswith("25% of learners took part (1 of 4)")
    staying = [RosterEntry("boss", Role.MANAGER, (), True)] + [
        RosterEntry(sub, Role.LEARNER, (), True) for sub in ("bo", "cy", "dee")]  # Ada is no longer listed
    roster.apply(course.ada.course_id, roster.Fetched(entries=staying), NOW + timedelta(hours=1))
    challenge = fresh(challenge)
    assert (challenge.progress_count, challenge.contributor_count) == (0, 0)
    assert queries.progress_of(challenge).text.startswith("0% of learners took part (0 of 3)")

def test_experiments_logged_before_the_challenge_was_created_count_when_inside_its_window(course):
    log(course.ada, now=NOW - timedelta(hours=2))
    log(course.bo, now=NOW - timedelta(days=3))          # before the window
    challenge = make(course, goal_value=5)
    assert fresh(challenge).progress_count == 1


# --- completion, badge and the rule condition ------------------------------------------------------------
def test_completion_happens_once_and_the_badge_goes_once_to_every_contributor(course):
    challenge = make(course, goal_value=2, badge=course.badge.id)
    log(course.ada)
    log(course.bo)
    challenge = fresh(challenge)
    first = challenge.completed_at
    assert first is not None
    assert progress.complete(challenge, NOW + timedelta(hours=3)) is False   # a second call changes nothing
    progress.recount(challenge, NOW + timedelta(hours=3))
    log(course.ada, now=NOW + timedelta(hours=4))          # more progress after completion
    assert fresh(challenge).completed_at == first
    assert badge_holders(course) == sorted([course.ada.user_id, course.bo.user_id])


def test_a_challenge_gives_only_a_badge_managers_award_not_a_rules(course):
    """A rule's badge has its own criteria ("a confirmed help to someone outside your teams"): a challenge reached
    by logging one experiment would hand it out past them, as a manual award of it is refused."""
    rules_badge = get_or_create_badge(course.ada.organisation_id, "bridge-builder", NOW)
    with pytest.raises(InvalidInput) as refused:
        make(course, goal_value=1, badge=rules_badge.id)
    assert "badge" in refused.value.errors
    challenge = make(course, goal_value=5, badge=course.badge.id)
    # a badge made a rule's after the challenge chose it stays on the challenge's edits
    course.badge.manual = False
    db.session.flush()
    update_challenge(course.manager, challenge.id, challenge_in(goal_value=4, badge=course.badge.id), NOW)
    assert fresh(challenge).badge_id == course.badge.id


def test_a_learner_joining_a_complete_challenge_in_its_window_completes_it_too(course):
    challenge = make(course, goal_value=1, badge=course.badge.id)
    log(course.ada)
    log(course.cy, now=NOW + timedelta(days=1))
    assert badge_holders(course) == sorted([course.ada.user_id, course.cy.user_id])
    completed = dict(db.session.execute(select(ChallengeContribution.user_id, ChallengeContribution.completed_at)
                                        .where(ChallengeContribution.challenge_id == challenge.id)).all())
    assert completed[course.cy.user_id] == NOW + timedelta(days=1)


def test_a_challenge_completed_rule_pays_contributors_when_the_challenge_completes(course):
    create_rule(course.ada.organisation_id, {"name": "Challenger", "condition": "challenge_completed",
                                             "params": {"count": 1}, "points": 15, "dimension": "experimenting"},
                NOW)
    make(course, goal_value=2)
    log(course.ada)
    before = balances(course.ada.course_id, course.ada.user_id).get("total", 0)
    log(course.bo)
    assert balances(course.ada.course_id, course.ada.user_id).get("total", 0) == before + 15
    assert balances(course.bo.course_id, course.bo.user_id).get("experimenting", 0) >= 15
    assert balances(course.cy.course_id, course.cy.user_id).get("total", 0) == 0


def test_a_challenge_completed_after_a_contributor_was_erased_gives_their_account_nothing(course):
    """Bo's entry still counts towards the goal after his account is erased, but the completion that follows pays
    the badge and the rule's points to the others only: nothing more is saved for an erased account."""
    from plugin.ledger.models import LedgerEntry
    from plugin.privacy.erase import erase_person

    create_rule(course.ada.organisation_id, {"name": "Challenger", "condition": "challenge_completed",
                                             "params": {"count": 1}, "points": 15, "dimension": "experimenting"},
                NOW)
    challenge = make(course, goal_value=3, badge=course.badge.id)
    log(course.bo)
    erase_person(make_actor(course.platform, "admin", Role.ADMIN), course.bo.user_id, NOW + timedelta(hours=1))
    erased_entries = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.user_id == course.bo.user_id))
    log(course.ada, now=NOW + timedelta(hours=2))
    log(course.cy, now=NOW + timedelta(hours=3))
    assert fresh(challenge).completed_at == NOW + timedelta(hours=3)  # Bo's entry counted: three of three
    assert badge_holders(course) == sorted([course.ada.user_id, course.cy.user_id])
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.user_id == course.bo.user_id)) == erased_entries
    assert balances(course.cy.course_id, course.cy.user_id).get("experimenting", 0) >= 15


def test_a_cancelled_challenge_stops_counting_and_never_completes(course):
    challenge = make(course, goal_value=1, badge=course.badge.id)
    cancel_challenge(course.manager, challenge.id, NOW)
    log(course.ada)
    challenge = fresh(challenge)
    assert challenge.progress_count == 0 and challenge.completed_at is None and badge_holders(course) == []


def test_moving_the_window_recounts_progress(course):
    log(course.ada, now=NOW)
    log(course.bo, now=NOW + timedelta(days=10))
    challenge = make(course, goal_value=5)
    assert fresh(challenge).progress_count == 2
    update_challenge(course.manager, challenge.id, challenge_in(goal_value=5, starts_at="2025-03-10T00:00"),
                     NOW + timedelta(days=11))
    challenge = fresh(challenge)
    assert (challenge.progress_count, challenge.contributor_count) == (1, 1)
    update_challenge(course.manager, challenge.id, challenge_in(goal_value=1, starts_at="2025-03-10T00:00"),
                     NOW + timedelta(days=11))
    assert fresh(challenge).completed_at is not None      # lowering the goal completes it


def test_a_complete_challenge_keeps_its_goal_and_window(course):
    challenge = make(course, goal_value=1)
    log(course.ada)
    with pytest.raises(InvalidInput) as err:
        update_challenge(course.manager, challenge.id, challenge_in(goal_value=9), NOW)
    assert "goal_value" in err.value.errors
    update_challenge(course.manager, challenge.id, challenge_in(goal_value=1, title="Renamed"), NOW)
    assert fresh(challenge).title == "Renamed"


def test_a_title_of_spaces_and_control_characters_is_no_title(course):
    """Three characters pass the form's length check; tidied as names are stored, nothing is left of them."""
    with pytest.raises(InvalidInput) as err:
        make(course, title="\x01 \x02\x03")
    assert "title" in err.value.errors
    assert make(course, title=" Twenty\ton  assessment ").title == "Twenty on assessment"


def test_form_times_are_the_organisations_local_time(course):
    admin = make_actor(course.platform, "root", Role.ADMIN)
    set_time_zone(admin, "Europe/Helsinki", NOW)           # UTC+2 in March
    challenge = make(course, starts_at="2025-03-03T00:00", ends_at="2025-03-04T00:00")
    assert challenge.starts_at == datetime(2025, 3, 2, 22, 0, tzinfo=UTC)
    assert challenge.ends_at == datetime(2025, 3, 3, 22, 0, tzinfo=UTC)


def test_a_replay_keeps_what_a_challenge_completed_rule_gave(course):
    from plugin.replay.service import replay

    create_rule(course.ada.organisation_id, {"name": "Challenger", "condition": "challenge_completed",
                                             "params": {"count": 1}, "points": 15, "dimension": "experimenting"},
                NOW)
    make(course, goal_value=2)
    log(course.ada)
    log(course.bo)
    assert len(progress.completion_events(course.ada.organisation_id)) == 2  # what the replay must feed the rules
    assert replay(course.ada.organisation_id, NOW + timedelta(hours=1)).points == []


# --- who may do what ------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", [Role.LEARNER, Role.OBSERVER])
def test_learners_and_observers_cannot_create_challenges(course, role):
    actor = make_actor(course.platform, f"someone-{role.value}", role)
    with pytest.raises(Forbidden):
        make(course, actor=actor)


def test_another_course_can_neither_see_nor_change_a_challenge(course):
    challenge = make(course)
    elsewhere = make_actor(course.platform, "boss2", Role.MANAGER, context_id="course-2")
    with pytest.raises(NotFound):
        get_challenge(elsewhere, challenge.id)
    with pytest.raises(NotFound):
        update_challenge(elsewhere, challenge.id, challenge_in(title="Hijacked"), NOW)
    with pytest.raises(NotFound):
        cancel_challenge(elsewhere, challenge.id, NOW)
    assert queries.cards(elsewhere, NOW) == []
    assert fresh(challenge).title == "Twenty on assessment" and fresh(challenge).cancelled_at is None


def test_a_team_challenge_is_hidden_from_learners_outside_the_team(course):
    red = ensure_team(course.ada.course_id, "Red", NOW)
    add_member(red, course.ada.user_id)
    challenge = make(course, team=red.id)
    assert [c.challenge.id for c in queries.cards(course.ada, NOW)] == [challenge.id]
    assert queries.cards(course.bo, NOW) == []
    with pytest.raises(NotFound):
        get_challenge(course.bo, challenge.id)


def test_choices_from_another_organisation_or_course_are_refused(course):
    other = make_platform(issuer="https://other.example", organisation="Org B")
    foreign_badge = get_or_create_badge(other.organisation_id, "x", NOW, name="Foreign")
    foreign_team = ensure_team(make_actor(course.platform, "z", context_id="course-2").course_id, "Elsewhere", NOW)
    with pytest.raises(InvalidInput) as err:
        make(course, badge=foreign_badge.id, team=foreign_team.id)
    assert set(err.value.errors) == {"badge", "team"}


# --- sandbox missions ------------------------------------------------------------------------------------
def mission(course, **overrides) -> Challenge:
    fields = {"is_mission": "on", "goal_value": 2, "scenario": "You are drafting a rubric for a fictional course.",
              "reflection_prompt": "What would you check before using it for real?",
              "tools": [str(course.tools["ChatGPT"])]}
    fields.update(overrides)
    return make(course, **fields)


def submit(actor, challenge, text="I drafted the rubric and checked it against the outcomes.", now=NOW):
    return missions.submit_evidence(actor, challenge.id, EvidenceIn().load({"text": text}), now)


def review(actor, evidence, decision="accept", comment="", now=NOW):
    return missions.review_evidence(actor, evidence.id, ReviewIn().load({"decision": decision, "comment": comment}),
                                    now)


def test_accepted_evidence_counts_and_completes_the_mission_once(course):
    m = mission(course, badge=course.badge.id)
    assert queries.approved_tools(m) == [course.tools["ChatGPT"]]
    log(course.ada)                                      # experiments do not count toward a mission
    first = submit(course.ada, m)
    assert fresh(m).progress_count == 0
    assert review(course.manager, first).status == ACCEPTED
    assert fresh(m).progress_count == 1 and badge_holders(course) == []  # not complete yet: goal is 2
    review(course.manager, submit(course.bo, m))
    m = fresh(m)
    assert m.progress_count == 2 and m.completed_at is not None
    assert badge_holders(course) == sorted([course.ada.user_id, course.bo.user_id])


def test_a_mission_acceptance_counts_for_the_challenge_completed_rule_at_once(course):
    create_rule(course.ada.organisation_id, {"name": "Sandboxer", "condition": "challenge_completed",
                                             "params": {"count": 1}, "points": 20, "dimension": "experimenting"},
                NOW)
    m = mission(course, goal_value=3)
    review(course.manager, submit(course.ada, m))
    assert balances(course.ada.course_id, course.ada.user_id).get("total", 0) == 20


def test_two_missions_accepted_at_once_both_count_for_the_challenge_completed_rule(appctx, course):
    """Two reviewers accept Ada's evidence for two missions at the same moment: the rule pays for her second
    completed challenge, so the later acceptance must count the other, not both count one and pay nothing."""
    from plugin.ledger.models import LedgerEntry
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    rule = create_rule(course.ada.organisation_id, {"name": "Two missions", "condition": "challenge_completed",
                                                    "params": {"count": 2}, "points": 20,
                                                    "dimension": "experimenting", "repeatable": False}, NOW)
    other_manager = make_actor(course.platform, "boss-2", Role.MANAGER)
    first, second = (submit(course.ada, mission(course, goal_value=3, title=f"Mission {n}")) for n in (1, 2))
    first_id, second_id, boss = first.id, second.id, course.manager
    accept = ReviewIn().load({"decision": "accept", "comment": ""})
    while_the_first_waits_to_commit(appctx, lambda: missions.review_evidence(boss, first_id, accept, NOW).id,
                                    lambda: missions.review_evidence(other_manager, second_id, accept, NOW).id)
    db.session.expire_all()
    paid = db.session.scalars(select(LedgerEntry.amount).where(LedgerEntry.rule_id == rule.id,
                                                              LedgerEntry.user_id == course.ada.user_id)).all()
    assert paid == [20]


def test_return_with_comment_then_resubmit_then_accept_keeps_the_history(course):
    m = mission(course)
    first = submit(course.ada, m)
    with pytest.raises(Conflict):
        submit(course.ada, m)                            # one submission waits at a time
    with pytest.raises(InvalidInput):
        review(course.manager, first, "return", "")      # a return says what to revise
    returned = review(course.manager, first, "return", "Add how you checked the rubric for bias.")
    assert returned.status == RETURNED and fresh(m).progress_count == 0
    second = submit(course.ada, m, "Revised: I also checked for biased wording.", now=NOW + timedelta(hours=1))
    assert second.attempt == 2 and second.status == SUBMITTED
    review(course.manager, second, "accept", now=NOW + timedelta(hours=2))
    trail = missions.history(course.ada, m.id)
    assert [(e.attempt, e.status, e.review_comment) for e in trail] == [
        (1, RETURNED, "Add how you checked the rubric for bias."), (2, ACCEPTED, None)]
    with pytest.raises(Conflict):
        submit(course.ada, m)                            # accepted: nothing more to submit


def test_a_review_happens_once_even_when_clicked_twice(course):
    m = mission(course)
    evidence = submit(course.ada, m)
    review(course.manager, evidence)
    with pytest.raises(Conflict):
        review(course.manager, evidence, "return", "Changed my mind")
    with pytest.raises(Conflict):
        review(course.manager, evidence)
    assert fresh(m).progress_count == 1


def test_the_champion_reviews_their_mission_but_not_their_own_evidence_nor_other_missions(course):
    m = mission(course, champion=course.cy.user_id)
    another = mission(course, title="Another mission", champion=course.dee.user_id)
    assert missions.champions_missions(course.cy) and not missions.champions_missions(course.bo)
    evidence = submit(course.ada, m)
    with pytest.raises(Forbidden):
        review(course.dee, evidence)                     # champion of another mission
    with pytest.raises(Forbidden):
        review(course.bo, evidence)                      # just a learner
    assert [e.id for e, _ in missions.review_queue(course.cy)] == [evidence.id]
    assert missions.review_queue(course.dee) == [] and missions.review_queue(course.bo) == []
    review(course.cy, evidence)
    own = submit(course.cy, m)
    with pytest.raises(Forbidden):
        review(course.cy, own)
    assert missions.review_queue(course.cy) == []
    on_other = submit(course.cy, another)
    review(course.dee, on_other)


def test_a_manager_reviewing_their_own_evidence_is_refused(course):
    m = mission(course)
    with pytest.raises(Forbidden):
        submit(course.manager, m)                        # evidence comes from learners


def test_a_reviewer_of_another_course_cannot_see_or_review(course):
    m = mission(course, champion=course.cy.user_id)
    evidence = submit(course.ada, m)
    stranger = make_actor(course.platform, "boss2", Role.MANAGER, context_id="course-2")
    with pytest.raises(NotFound):
        review(stranger, evidence)
    assert missions.review_queue(stranger) == []
    cy_elsewhere = make_actor(course.platform, "cy", context_id="course-2")   # the champion, in another course
    with pytest.raises(NotFound):
        review(cy_elsewhere, evidence)


def test_the_champion_must_be_a_learner_of_the_course(course):
    with pytest.raises(InvalidInput) as err:
        mission(course, champion=course.manager.user_id)
    assert "champion" in err.value.errors


def test_evidence_needs_the_mission_open_and_the_learner_in_its_team(course):
    red = ensure_team(course.ada.course_id, "Red", NOW)
    add_member(red, course.ada.user_id)
    m = mission(course, team=red.id)
    with pytest.raises(NotFound):
        submit(course.bo, m)                             # not in the team: the mission is not theirs to see
    with pytest.raises(Conflict):
        submit(course.ada, m, now=END)                   # the window is over
    submit(course.ada, m)


# --- synthetic data sets --------------------------------------------------------------------------------
def test_a_mission_keeps_a_small_text_data_set(course):
    m = create_challenge(course.manager, challenge_in(is_mission="on", scenario=""), NOW,
                         upload=("grades.csv", b"student,score\nA,12\nB,15\n"))
    data = missions.dataset_for(course.ada, m.id)
    assert (data.name, data.content_type, data.content) == ("grades.csv", "text/csv", b"student,score\nA,12\nB,15\n")


@pytest.mark.parametrize("name, content, words", [
    ("big.csv", b"a,b\n" + b"1,2\n" * 60_000, "too large"),
    ("page.html", b"<p>hi</p>", "HTML and other formats are not accepted"),
    ("sneaky.txt", b"<!DOCTYPE html><script>alert(1)</script>", "looks like a web page"),
    ("data.json", b"{not json", "valid JSON"),
    ("binary.txt", bytes(range(128, 256)), "UTF-8"),
])
def test_unsafe_or_large_data_sets_are_refused(course, name, content, words):
    with pytest.raises(InvalidInput) as err:
        create_challenge(course.manager, challenge_in(is_mission="on"), NOW, upload=(name, content))
    assert err.value.status == 422 and words in " ".join(err.value.errors["dataset"])
    assert db.session.scalar(select(func.count()).select_from(Challenge)) == 0


def test_a_mission_needs_a_scenario_or_a_data_set(course):
    with pytest.raises(InvalidInput) as err:
        make(course, is_mission="on")
    assert "scenario" in err.value.errors


# --- racing writers (threads with their own sessions, as separate requests or instances) -------------------
def test_racing_experiments_complete_the_challenge_once_with_exact_counters(course, app):
    from plugin.experiments.service import log_experiment
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import race

    learners = [make_actor(course.platform, f"racer-{i}") for i in range(6)]
    challenge = make(course, goal_value=3, badge=course.badge.id)
    data = [experiment_data(a.organisation_id) for a in learners]

    def work(i):
        log_experiment(learners[i], data[i], NOW + timedelta(seconds=i))
        db.session.commit()

    race(app, work, threads=len(learners))
    challenge = fresh(challenge)
    assert (challenge.progress_count, challenge.contributor_count) == (6, 6)
    assert challenge.completed_at is not None
    assert badge_holders(course) == sorted(a.user_id for a in learners)
    assert db.session.scalar(select(func.count()).select_from(ChallengeContribution).where(
        ChallengeContribution.completed_at.is_not(None))) == 6


def test_racing_reviews_of_one_submission_let_exactly_one_through(course, app):
    from tests.services.test_concurrency import race

    m = mission(course, goal_value=1, badge=course.badge.id, champion=course.cy.user_id)
    evidence_id = submit(course.ada, m).id  # plain ids only: the workers have sessions of their own
    reviewers = [course.manager, course.cy, course.manager, course.cy]

    def work(i):
        try:
            missions.review_evidence(reviewers[i], evidence_id, ReviewIn().load(
                {"decision": "accept" if i % 2 else "return", "comment": "Please add your reflection."}), NOW)
            db.session.commit()
            return "reviewed"
        except Conflict:
            db.session.rollback()
            return "already"

    outcomes = race(app, work, threads=len(reviewers))
    assert sorted(outcomes) == ["already", "already", "already", "reviewed"]
    db.session.expire_all()
    final = db.session.get(MissionEvidence, evidence_id)
    assert final.status in (ACCEPTED, RETURNED)
    assert fresh(m).progress_count == (1 if final.status == ACCEPTED else 0)
    assert badge_holders(course) == ([course.ada.user_id] if final.status == ACCEPTED else [])


# --- what the browser review found -----------------------------------------------------------------------------
@pytest.mark.parametrize("starts, ends", [("0001-01-01T00:00", "2025-04-01T00:00"), ("2025-03-03T00:00", "9999-12-31T23:59"),
                                          ("1999-12-31T23:59", "2101-01-01T00:00")])
def test_dates_are_limited_to_the_years_2000_to_2100(starts, ends):
    with pytest.raises(ValidationError) as refused:
        challenge_in(starts_at=starts, ends_at=ends)
    assert "Choose a date between the years 2000 and 2100." in sum(refused.value.messages.values(), [])
    assert challenge_in(starts_at="2000-01-01T00:00", ends_at="2100-12-31T23:59")["ends_at"].year == 2100


def test_every_required_field_has_its_own_message_and_cross_field_checks_run_with_field_errors():
    with pytest.raises(ValidationError) as empty:
        ChallengeIn().load({})
    messages = empty.value.messages
    assert set(messages) == {"title", "goal_kind", "goal_value", "starts_at", "ends_at"}
    assert len({m for ms in messages.values() for m in ms}) == 5  # five different, specific messages
    with pytest.raises(ValidationError) as all_at_once:
        challenge_in(title="ab", goal_kind="participation", goal_value=150,
                     starts_at="2025-03-03T00:00", ends_at="2025-03-02T00:00")
    assert set(all_at_once.value.messages) == {"title", "goal_value", "ends_at"}
    with pytest.raises(ValidationError) as guarded:  # a missing start: no KeyError, its own message
        ChallengeIn().load({"title": "Fine", "goal_kind": "participation", "goal_value": "101",
                            "ends_at": "2025-03-02T00:00"})
    assert set(guarded.value.messages) == {"starts_at", "goal_value"}


def test_mission_details_on_an_ordinary_challenge_are_refused_not_dropped(course):
    with pytest.raises(InvalidInput) as refused:
        make(course, scenario="A made-up essay", reflection_prompt="Why?", tools=[course.tools["ChatGPT"]],
             champion=course.ada.user_id, dataset_text="a,b\n1,2\n")
    assert set(refused.value.errors) == {"scenario", "reflection_prompt", "tools", "champion", "dataset_text"}
    assert db.session.scalar(select(func.count()).select_from(Challenge)) == 0
    plain = make(course)
    with pytest.raises(InvalidInput) as edited:
        update_challenge(course.manager, plain.id, challenge_in(scenario="Sneaked in"), NOW)
    assert set(edited.value.errors) == {"scenario"}
    mission = make(course, is_mission=True, scenario="A made-up essay", tools=[course.tools["ChatGPT"]])
    assert update_challenge(course.manager, mission.id, challenge_in(scenario="Changed"), NOW).scenario == "Changed"


def test_percentages_round_half_up_and_the_participation_text_says_the_share_of_the_goal():
    assert [queries.percent(p, w) for p, w in ((2, 7), (1, 8), (9, 20), (0, 3), (1, 0))] == [29, 13, 45, 0, 0]
    challenge = Challenge(goal_kind="participation", goal_value=80, contributor_count=9, completed_at=None,
                          is_mission=False, team_id=None, course_id=0)
    shown = queries.progress_of(challenge, learners=20)
    assert shown.text == "45% of learners took part (9 of 20) — 56% of the way to the 80% goal"
    assert (shown.value, shown.goal) == (45, 80)  # the bar is 45 of 80: 56% full, as the words say
    challenge.contributor_count = 2
    assert queries.progress_of(challenge, learners=7).text.startswith("29% of learners took part (2 of 7)")
    challenge.goal_value, challenge.contributor_count = 50, 199
    assert queries.progress_of(challenge, learners=400).text.endswith("— 99% of the way to the 50% goal")  # not yet


def test_a_returned_submission_without_a_comment_has_one_message(course):
    mission = make(course, is_mission=True, scenario="A made-up essay")
    evidence = missions.submit_evidence(course.ada, mission.id, EvidenceIn().load({"text": "My attempt."}), NOW)
    with pytest.raises(InvalidInput) as refused:
        missions.review_evidence(course.manager, evidence.id, ReviewIn().load({"decision": "return"}), NOW)
    assert refused.value.errors == {"comment": [refused.value.message]}


def test_the_learner_reads_that_a_challenges_badge_and_points_came_from_the_challenge_not_from_a_manager(course):
    from plugin.recognition.history import explanations
    create_rule(course.ada.organisation_id, {"name": "Challenger", "condition": "challenge_completed",
                                             "params": {"count": 1}, "points": 15, "dimension": "experimenting"},
                NOW)
    make(course, goal_value=1, badge=course.badge.id)
    log(course.ada)
    rows = [e for e in explanations(course.ada) if (e.badge and e.badge.id == course.badge.id) or e.why.startswith("Challenger")]
    assert sorted((e.badge.name if e.badge else f"+{e.points}", e.why, e.source) for e in rows) == [
        ("+15", "Challenger (rule version 1)", "Challenge: Twenty on assessment"),
        ("Team player", "Challenge completed", "Challenge: Twenty on assessment")]


def _challenger_rule(course, points: int = 15):
    return create_rule(course.ada.organisation_id, {"name": "Challenger", "condition": "challenge_completed",
                                                    "params": {"count": 1}, "points": points,
                                                    "dimension": "experimenting"}, NOW)


def _deliver_deferred():
    """What the completion left to the outbox (people who were busy when it committed), as the worker sends it."""
    from plugin.outbox.service import process_due

    process_due(NOW + timedelta(minutes=5))
    db.session.expire_all()


@pytest.mark.parametrize("first", ["completion", "team change"])
def test_a_challenge_completing_while_a_manager_adds_a_contributor_to_a_team_keeps_the_teams_figures_exact(
        appctx, course, first):
    """Ada's experiment completes a challenge Bo contributed to (the rule pays him 15) while his manager adds him to a
    team: whichever commits first, the team's figures are his points as the ledger has them."""
    from plugin.experiments.service import log_experiment
    from plugin.leaderboards.rebuild import verify
    from plugin.teams.service import add_members
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    _challenger_rule(course)
    make(course, goal_value=2)
    log(course.bo)
    team_id, boss, ada, bo = ensure_team(course.bo.course_id, "Pioneers", NOW).id, course.manager, course.ada, course.bo
    data = experiment_data(ada.organisation_id)
    work = {"completion": lambda: log_experiment(ada, data, NOW + timedelta(minutes=1)).experiment.id,
            "team change": lambda: add_members(boss, team_id, [bo.user_id], NOW)}
    second = "team change" if first == "completion" else "completion"
    while_the_first_waits_to_commit(appctx, work[first], work[second])
    _deliver_deferred()
    assert balances(bo.course_id, bo.user_id)["experimenting"] == 10 + 15
    assert verify(bo.organisation_id) == {}


def test_a_contributor_logging_while_another_completes_the_challenge_is_no_deadlock(appctx, course):
    """Bo logs a second experiment for a challenge while Ada's completes it: his award is saved (his points row
    taken) when her completion pays him, then his experiment counts toward the challenge she holds. Neither may end
    in a deadlock (a server error for one of them); Bo is paid for the completion once, and the figures agree."""
    import threading

    from plugin.experiments.service import log_experiment
    from plugin.leaderboards.rebuild import verify
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import committing_thread, until_it_waits_for_a_lock

    _challenger_rule(course)
    challenge = make(course, goal_value=2, badge=course.badge.id)
    log(course.bo)
    ada, bo = course.ada, course.bo
    data = {n: experiment_data(ada.organisation_id) for n in ("ada", "bo")}
    db.session.commit()
    bo_paid, go, errors = threading.Event(), threading.Event(), []
    counted = progress.on_experiment_logged

    def counting_after_a_pause(experiment, now):
        if experiment.user_id == bo.user_id:  # Bo's award is saved; his count toward the challenge comes next
            bo_paid.set()
            go.wait(30)
        return counted(experiment, now)

    def logging(who, actor, at) -> threading.Thread:
        return committing_thread(appctx, who, lambda: log_experiment(actor, data[who], at).experiment.id, errors, {},
                                 bo_paid)

    progress.on_experiment_logged = counting_after_a_pause
    try:
        bo_thread = logging("bo", bo, NOW + timedelta(minutes=1))
        assert bo_paid.wait(30)
        ada_thread = logging("ada", ada, NOW + timedelta(minutes=2))
        until_it_waits_for_a_lock(ada_thread)  # Ada's completion (SQLite: waiting to begin)
        go.set()
        bo_thread.join(60)
        ada_thread.join(60)
    finally:
        progress.on_experiment_logged = counted
    assert errors == [] and not bo_thread.is_alive() and not ada_thread.is_alive()
    _deliver_deferred()
    challenge = fresh(challenge)
    assert (challenge.progress_count, challenge.contributor_count) == (3, 2) and challenge.completed_at is not None
    assert badge_holders(course) == sorted([ada.user_id, bo.user_id])
    assert balances(bo.course_id, bo.user_id)["experimenting"] == 10 + 10 + 15
    assert balances(ada.course_id, ada.user_id)["experimenting"] == 10 + 15
    assert verify(ada.organisation_id) == {}


@pytest.mark.skipif("config.getoption('--db') != 'postgresql'", reason="row locks taken in turn are PostgreSQL's")
def test_a_manager_moving_the_goal_while_a_learner_logs_for_the_challenge_is_no_deadlock(appctx, course):
    """Ada's experiment has counted toward a challenge (her contribution row written) and waits for the challenge's
    row while her manager's edit of the goal holds it and recounts her contribution: neither may end in a deadlock
    (a server error for one of them), and the challenge counts her experiments exactly."""
    import threading

    from plugin.core.db import writing
    from plugin.experiments.service import log_experiment
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import committing_thread, until_sessions_wait_for_locks

    log(course.ada)
    challenge_id = make(course, goal_value=5).id
    ada, boss, data = course.ada, course.manager, experiment_data(course.ada.organisation_id)
    db.session.commit()
    holding, release, errors = threading.Event(), threading.Event(), []

    def hold_the_challenge():  # a third writer holding the challenge's row lines the two up behind it
        with appctx.app_context(), writing():
            db.session.execute(select(Challenge.id).where(Challenge.id == challenge_id).with_for_update())
            holding.set()
            release.wait(30)
            db.session.rollback()

    holder = threading.Thread(target=hold_the_challenge, daemon=True)
    holder.start()
    assert holding.wait(30)
    edit = committing_thread(appctx, "edit", lambda: update_challenge(
        boss, challenge_id, challenge_in(goal_value=4), NOW + timedelta(minutes=1)), errors)
    until_sessions_wait_for_locks(1)
    experiment = committing_thread(appctx, "experiment", lambda: log_experiment(ada, data, NOW + timedelta(minutes=2)),
                                   errors)
    until_sessions_wait_for_locks(2)
    release.set()
    for thread in (holder, edit, experiment):
        thread.join(60)
    assert errors == [] and not edit.is_alive() and not experiment.is_alive()
    challenge = fresh(db.session.get(Challenge, challenge_id))
    assert (challenge.goal_value, challenge.progress_count, challenge.contributor_count) == (4, 2, 1)
    assert db.session.scalar(select(ChallengeContribution.experiments).where(
        ChallengeContribution.challenge_id == challenge_id)) == 2


@pytest.mark.parametrize("first", ["experiment", "challenge"])
def test_a_challenge_created_while_a_learner_logs_counts_the_experiment(appctx, course, first):
    """A manager creates a challenge whose window holds Ada's experiment being saved at that moment: whichever commits
    first, the challenge counts it (the creation's recount, or her experiment's own count), not neither."""
    from plugin.experiments.service import log_experiment
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    log(course.ada)
    ada, boss, data = course.ada, course.manager, experiment_data(course.ada.organisation_id)
    work = {"experiment": lambda: log_experiment(ada, data, NOW + timedelta(minutes=1)).experiment.id,
            "challenge": lambda: create_challenge(boss, challenge_in(goal_value=5), NOW).id}
    second = "challenge" if first == "experiment" else "experiment"
    results = while_the_first_waits_to_commit(appctx, work[first], work[second])
    challenge = fresh(db.session.get(Challenge, results[[first, second].index("challenge")]))
    assert (challenge.progress_count, challenge.contributor_count) == (2, 1)


@pytest.mark.parametrize("first", ["experiment", "cancel"])
def test_a_challenge_cancelled_while_a_learner_logs_keeps_nothing_on_its_board(appctx, course, first):
    """A manager cancels a challenge while Ada's experiment counting toward it is being saved: whichever commits
    first, the cancelled challenge has left the boards (no row of hers stays on its board) and its progress is
    what it was at the cancellation."""
    from plugin.experiments.service import log_experiment
    from plugin.leaderboards.keys import board_key, challenge_scope
    from plugin.leaderboards.models import BoardScore
    from plugin.leaderboards.periods import ALL
    from plugin.ledger.models import TOTAL
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    challenge_id = make(course, goal_value=5).id
    log(course.ada)
    db.session.commit()
    ada, boss, data = course.ada, course.manager, experiment_data(course.ada.organisation_id)
    work = {"experiment": lambda: log_experiment(ada, data, NOW + timedelta(minutes=1)).experiment.id,
            "cancel": lambda: cancel_challenge(boss, challenge_id, NOW + timedelta(minutes=1)).id}
    second = "cancel" if first == "experiment" else "experiment"
    while_the_first_waits_to_commit(appctx, work[first], work[second])
    board = board_key(challenge_scope(challenge_id), ALL, TOTAL)
    assert db.session.scalars(select(BoardScore.user_id).where(BoardScore.board == board)).all() == []
    cancelled = fresh(db.session.get(Challenge, challenge_id))
    assert cancelled.cancelled_at is not None
    assert cancelled.progress_count == (2 if first == "experiment" else 1)  # as it was when it was cancelled


@pytest.mark.skipif("config.getoption('--db') != 'postgresql'", reason="row locks taken in turn are PostgreSQL's")
def test_a_contributor_counting_while_another_completes_the_challenge_is_no_deadlock(appctx, course):
    """Bo's second experiment has added itself to his contribution and waits for the challenge's row while Ada's
    experiment, holding that row, completes the challenge (marking every contribution complete, his too): neither
    may end in a deadlock (a server error for one of them), and Bo is paid for the completion once."""
    import threading

    from plugin.experiments.service import log_experiment
    from plugin.leaderboards.rebuild import verify
    from plugin.settings.service import limits, update_limits
    from tests.services.factories import experiment_data
    from tests.services.test_concurrency import committing_thread, until_it_waits_for_a_lock

    admin = make_actor(course.platform, "admin", Role.ADMIN)
    # Ten points a day: Bo's second experiment of the day earns nothing, so it writes no board row Ada's holds.
    update_limits(admin, {**limits(admin.organisation_id).__dict__, "daily_points_cap": 10}, NOW)
    _challenger_rule(course)
    challenge = make(course, goal_value=2, badge=course.badge.id)
    log(course.bo)
    ada, bo = course.ada, course.bo
    data = {n: experiment_data(ada.organisation_id) for n in ("ada", "bo")}
    db.session.commit()
    holding, go, errors = threading.Event(), threading.Event(), []
    completing = progress.complete

    def complete_after_a_pause(challenge, now, newcomers=None):
        if threading.current_thread().name == "ada":  # she holds the challenge's row; its completion comes next
            holding.set()
            go.wait(30)
        return completing(challenge, now, newcomers)

    def logging(who, actor, at) -> threading.Thread:
        return committing_thread(appctx, who, lambda: log_experiment(actor, data[who], at).experiment.id, errors, {},
                                 holding)

    progress.complete = complete_after_a_pause
    try:
        ada_thread = logging("ada", ada, NOW + timedelta(minutes=1))
        assert holding.wait(30)
        bo_thread = logging("bo", bo, NOW + timedelta(minutes=2))
        until_it_waits_for_a_lock(bo_thread)  # Bo's experiment, for the challenge's row
        go.set()
        ada_thread.join(60)
        bo_thread.join(60)
    finally:
        progress.complete = completing
    assert errors == [] and not bo_thread.is_alive() and not ada_thread.is_alive()
    _deliver_deferred()
    challenge = fresh(challenge)
    assert (challenge.progress_count, challenge.contributor_count) == (3, 2) and challenge.completed_at is not None
    assert badge_holders(course) == sorted([ada.user_id, bo.user_id])
    assert balances(bo.course_id, bo.user_id)["experimenting"] == 10 + 15
    assert verify(ada.organisation_id) == {}


def test_a_challenge_edited_while_another_manager_cancels_it_is_refused(appctx, course):
    """One manager cancels a challenge while another saves a new goal for it: the edit, waiting for the course's
    people's rows the cancellation holds, is refused once the cancellation commits (as an edit of a cancelled
    challenge is), not saved onto the cancelled challenge."""
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    challenge_id = make(course, goal_value=5).id
    log(course.ada)
    other = make_actor(course.platform, "boss-2", Role.MANAGER)
    db.session.commit()
    boss = course.manager
    results = while_the_first_waits_to_commit(
        appctx, lambda: cancel_challenge(boss, challenge_id, NOW + timedelta(minutes=1)).id,
        lambda: update_challenge(other, challenge_id, challenge_in(goal_value=4), NOW + timedelta(minutes=1)).id)
    assert results == [challenge_id, "refused"]
    cancelled = fresh(db.session.get(Challenge, challenge_id))
    assert (cancelled.cancelled_at is not None, cancelled.goal_value) == (True, 5)


@pytest.mark.parametrize("round_", range(3))
def test_the_same_challenge_form_sent_twice_at_once_creates_one(course, appctx, round_):
    """Two copies of one form (a double click, a retry while the first still runs), each in its own transaction:
    both get the same challenge, and the course has one."""
    from tests.services.test_concurrency import race

    def send(_i):
        challenge = create_challenge(course.manager, challenge_in(title="Prompt clinic"), NOW,
                                     submission_key=f"form-key-{round_}")
        db.session.commit()
        return challenge.id

    ids = race(appctx, send, 2)
    assert ids[0] == ids[1]
    assert db.session.scalar(select(func.count()).select_from(Challenge).where(
        Challenge.submission_key == f"form-key-{round_}")) == 1
