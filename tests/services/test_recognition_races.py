"""Racing managers and confirmations: budgets never overspend, a help is confirmed (and paid) once."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from plugin.badges.models import BadgeAward
from plugin.core.actor import Role
from plugin.errors import Conflict
from plugin.experiments.service import share_experiment
from plugin.extensions import db
from plugin.leaderboards import rebuild
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import balance, verify_totals
from plugin.peer_help.models import PeerHelp
from plugin.peer_help.service import HELPED_ME, I_HELPED, confirm_help, decline_help, record_help
from plugin.recognition.models import Kudos, KudosBudget
from plugin.recognition.service import give_kudos, revoke_badge, revoke_kudos
from tests.services.factories import NOW, later, log, make_actor, make_platform
from tests.services.test_concurrency import THREADS, race


@pytest.fixture
def people(appctx):
    platform = make_platform()
    return (make_actor(platform, "manager", role=Role.MANAGER), make_actor(platform, "learner"),
            make_actor(platform, "helper"))


def test_racing_kudos_never_overspend_the_monthly_budget(appctx, people):
    manager, learner, _ = people

    def work(i):
        try:
            give_kudos(manager, receiver_id=learner.user_id, message=f"Thanks {i}", points=30, now=NOW,
                       submission_key=f"race-kudos-{i}")
            db.session.commit()
            return "given"
        except Conflict:
            db.session.rollback()
            return "refused"

    results = race(appctx, work)
    assert results.count("given") == 3 and results.count("refused") == THREADS - 3  # 3 x 30 <= 100 < 4 x 30
    assert db.session.scalar(select(KudosBudget.spent)) == 90
    assert balance(learner.course_id, learner.user_id) == 90
    assert db.session.scalar(select(func.count()).select_from(Kudos)) == 3
    assert verify_totals() == []


def test_racing_confirmations_of_one_help_pay_once(appctx, people):
    _, learner, helper = people
    recorded = record_help(helper, other_user_id=learner.user_id, direction=I_HELPED,
                           description="Showed how to write a system prompt", now=NOW)
    help_id = recorded.help.id  # read here: the threads must not touch this session's objects

    def work(i):
        try:
            confirm_help(learner, help_id, NOW)
            db.session.commit()
            return "confirmed"
        except Conflict:
            db.session.rollback()
            return "already"

    results = race(appctx, work)
    assert results.count("confirmed") == 1
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.user_id == helper.user_id, LedgerEntry.source_type == "peer_help")) == 1
    assert balance(helper.course_id, helper.user_id) == 10


def test_one_kudos_form_sent_several_times_at_once_gives_one_kudos(appctx, people):
    manager, learner, _ = people

    def work(i):
        kudos = give_kudos(manager, receiver_id=learner.user_id, message="Great share", points=10, now=NOW,
                           submission_key="one-form")
        db.session.commit()
        return kudos.id

    ids = race(appctx, work)
    assert len(set(ids)) == 1  # every sender got the one kudos back, none an error
    assert db.session.scalar(select(func.count()).select_from(Kudos)) == 1
    assert db.session.scalar(select(KudosBudget.spent)) == 10
    assert balance(learner.course_id, learner.user_id) == 10


def test_racing_revocations_of_one_kudos_take_it_back_once(appctx, people):
    manager, learner, _ = people
    kudos_id = give_kudos(manager, receiver_id=learner.user_id, message="Great share", now=NOW,
                          submission_key="to-revoke", points=30).id

    def work(i):
        revoke_kudos(manager, kudos_id, "Given by mistake", later(1))
        db.session.commit()

    race(appctx, work)
    assert balance(learner.course_id, learner.user_id) == 0
    assert db.session.scalar(select(KudosBudget.spent)) == 0  # refunded once, not once per request
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.amount < 0)) == 1


def test_racing_revocations_of_one_badge_count_it_out_once(appctx, people):
    manager, learner, _ = people
    log(learner)  # First Try: a badge
    award_id = db.session.scalar(select(BadgeAward.id).where(BadgeAward.user_id == learner.user_id))
    assert award_id is not None

    def work(i):
        revoke_badge(manager, award_id, "Awarded by mistake", later(1))
        db.session.commit()

    race(appctx, work)
    assert rebuild.verify() == {}  # the person's badge count went down by one, not once per request


def test_racing_shares_of_one_experiment_count_it_shared_once(appctx, people):
    _, learner, _ = people
    experiment_id = log(learner, visibility="private").experiment.id

    def work(i):
        share_experiment(learner, experiment_id, "course", later(1))
        db.session.commit()

    race(appctx, work)
    assert rebuild.verify() == {}  # the "shared" tally is 1, not once per request


def test_one_help_form_sent_several_times_at_once_records_and_pays_once(appctx, people):
    _, learner, helper = people

    def work(i):
        result = record_help(learner, other_user_id=helper.user_id, direction=HELPED_ME, now=NOW,
                             description="Showed me prompt chaining", submission_key="one-help-form")
        db.session.commit()
        return result.help.id

    assert len(set(race(appctx, work))) == 1
    assert balance(helper.course_id, helper.user_id, "helping") == 10
    assert verify_totals() == []


def test_a_yes_and_a_no_to_one_help_at_once_answer_it_once(appctx, people):
    """Two tabs (or a double click on both buttons): one answer wins, the other is told it was answered; the
    help is never left declined with its points paid."""
    _, learner, helper = people
    recorded = record_help(helper, other_user_id=learner.user_id, direction=I_HELPED,
                           description="Showed how to write a system prompt", now=NOW)
    help_id = recorded.help.id

    def work(i):
        try:
            if i % 2:
                decline_help(learner, help_id, NOW)
            else:
                confirm_help(learner, help_id, NOW)
            db.session.commit()
            return "answered"
        except Conflict:
            db.session.rollback()
            return "already"

    results = race(appctx, work)
    assert results.count("answered") == 1
    status = db.session.scalar(select(PeerHelp.status).where(PeerHelp.id == help_id))
    paid = balance(helper.course_id, helper.user_id)
    assert (status, paid) in (("confirmed", 10), ("declined", 0))


def test_helps_between_one_pair_recorded_at_once_stay_within_the_pair_cap(appctx, people):
    """Default cap: 3 paid helps between the same two people per 30 days. Eight recorded at once (tabs, the API)
    must each count the others, or every one finds the pair under its cap and pays."""
    _, learner, helper = people

    def work(i):
        record_help(learner, other_user_id=helper.user_id, direction=HELPED_ME, submission_key=f"pair-{i}",
                    description=f"Showed me prompt trick number {i}", now=later(i))
        db.session.commit()

    race(appctx, work)
    assert db.session.scalar(select(func.count()).select_from(PeerHelp).where(
        PeerHelp.over_pair_cap.is_(False))) == 3
    assert balance(helper.course_id, helper.user_id) == 3 * 10 + 15  # three helps, and the Helper badge's 15
    assert verify_totals() == []


@pytest.mark.parametrize("first", ["team change", "manual badge"])
def test_a_manual_badge_awarded_while_the_learner_joins_a_team_counts_for_the_team(appctx, first):
    """A manager adds Ada to Red while another manager awards her the Champion badge (PostgreSQL: two requests at
    once). Red's figures must count the badge, as a rebuild does: award_badge_manually takes its turn on Ada's
    membership row, as kudos and every rule award do (without it, each read the other's work as not there, and Red
    stayed one badge short on PostgreSQL)."""
    from plugin.badges.models import BadgeClass
    from plugin.badges.service import badges_of
    from plugin.leaderboards import rebuild
    from plugin.leaderboards.periods import ALL
    from plugin.leaderboards.queries import team_figures
    from plugin.recognition.service import award_badge_manually
    from plugin.teams import service as teams
    from plugin.teams.schemas import TeamIn
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    platform = make_platform()
    ada, boss, other_boss = (make_actor(platform, "ada"), make_actor(platform, "boss", Role.MANAGER),
                             make_actor(platform, "boss-2", Role.MANAGER))
    org = ada.organisation_id
    log(ada)
    team_id = teams.create_team(boss, TeamIn().load({"name": "Red"}), NOW).id
    champion = db.session.scalar(select(BadgeClass.id).where(BadgeClass.organisation_id == org,
                                                             BadgeClass.slug == "champion"))

    def join():
        return teams.add_members(boss, team_id, [ada.user_id], later(2))

    def award():
        return award_badge_manually(other_boss, receiver_id=ada.user_id, badge_id=champion,
                                    comment="Ran the prompt clinic", now=later(2))

    while_the_first_waits_to_commit(appctx, *((join, award) if first == "team change" else (award, join)))
    db.session.expire_all()
    assert rebuild.verify(org) == {}
    assert team_figures(team_id, [ALL])[ALL].get("badges", 0) == len(badges_of(ada.course_id, ada.user_id))
