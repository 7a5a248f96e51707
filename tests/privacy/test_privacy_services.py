"""Export, erasure and retention against a real database: every user column is covered, another
organisation never leaks in, an erasure removes text and names while every total stays the same."""
import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plugin.audit.models import AuditEvent
from plugin.catalog.service import items
from plugin.core.actor import Role
from plugin.errors import Forbidden, InvalidInput, NotFound
from plugin.experiments.models import Experiment
from plugin.extensions import db
from plugin.leaderboards.queries import ANONYMOUS, Scope, board
from plugin.leaderboards.rebuild import verify
from plugin.ledger.models import LedgerEntry, PointsTotal
from plugin.ledger.service import balances
from plugin.outbox.models import OutboxItem
from plugin.privacy import service as privacy
from plugin.privacy.erase import ERASED, POLICY
from plugin.privacy.export import COVERED, export_person
from plugin.privacy.retention import PURGED_TITLE, purge_expired
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import User
from tests.privacy.world import ADA_EMAIL, ADA_TEXT, PRIVATE_EMAIL, build
from tests.services.factories import NOW, identity, later, log, make_actor


@pytest.fixture
def world(appctx):
    return build()


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def user_columns() -> set[str]:
    return {f"{table.name}.{column.name}" for table in db.metadata.tables.values() for column in table.columns
            if any(fk.target_fullname == "user_account.id" for fk in column.foreign_keys)} | {"user_account.id"}


def test_every_column_naming_a_person_is_exported_and_has_an_erasure_policy(appctx):
    """A new table with a user_account foreign key fails here until export and erasure say what they do."""
    columns = user_columns()
    assert len(columns) > 25
    assert columns - set(COVERED) == set(), "add these to plugin/privacy/export.py COVERED"
    assert columns - set(POLICY) == set(), "add these to plugin/privacy/erase.py POLICY"


def test_export_holds_the_persons_records_and_nothing_from_another_organisation(world):
    data = export_person(world.ada.organisation_id, world.ada.user_id)
    dump = json.dumps(data)
    assert data["profile"][0]["name"] == "Ada Lovelace" and data["profile"][0]["email"] == ADA_EMAIL
    assert {e["tried"] for e in data["experiments"]} == {ADA_TEXT, ADA_TEXT + " long ago"}
    assert data["peer_help"][0]["description"] == "Bo showed Ada how to chain prompts"
    assert data["peer_help"][0]["helper"] == "Bo Diddley"
    assert data["kudos_received"][0]["message"] == "Ada ran a brilliant clinic"
    assert data["kudos_received"][0]["from"] == "The Boss"
    assert {a["badge"] for a in data["badge_awards"]} >= {"Champion"}
    assert data["mission_evidence"][0]["text"] == "Ada's rubric for Ms Grey's unit"
    assert data["teams"][0]["team"] == "Red"
    assert data["badge_recipient"][0]["pending_email"] == PRIVATE_EMAIL
    assert data["emails"][0]["to"] == PRIVATE_EMAIL
    assert data["reactions_given"] and data["reactions_received"] and data["reuses_received"]
    assert sum(e["amount"] for e in data["ledger"]) == balances(world.ada.course_id, world.ada.user_id)["total"]
    assert all(e["why"] for e in data["ledger"])
    assert any(p["dimension"] == "total" and p.get("level") for p in data["points"])
    assert data["challenge_contributions"] and data["memberships"][0]["role"] == "learner"
    assert "Org B" not in dump and "Ada Elsewhere" not in dump
    # Who reacted to Ada's work is theirs to tell, not hers to download.
    assert "Bo Diddley" not in json.dumps(data["reactions_received"] + data["reuses_received"])
    # The same LMS id in another organisation is another person there, and asking across organisations finds no one.
    assert export_person(world.ada.organisation_id, world.twin.user_id) == {}
    twin = export_person(world.twin.organisation_id, world.twin.user_id)
    assert "Ada Lovelace" not in json.dumps(twin) and ADA_TEXT not in json.dumps(twin)


def test_downloading_my_data_is_audited_and_the_csv_is_formula_safe(world):
    data = privacy.my_data(world.ada, "csv", NOW)
    assert [(e.actor_user_id, e.target_id, e.details["format"]) for e in audit("privacy.export")] == [
        (world.ada.user_id, world.ada.user_id, "csv")]
    data["experiments"][0]["title"] = "=HYPERLINK(\"http://evil\")"
    archive = zipfile.ZipFile(io.BytesIO(privacy.as_csv_zip(data, NOW)))
    assert "experiments.csv" in archive.namelist() and "ledger.csv" in archive.namelist()
    experiments = archive.read("experiments.csv").decode("utf-8-sig")
    assert "'=HYPERLINK" in experiments and ",=HYPERLINK" not in experiments
    ledger = archive.read("ledger.csv").decode("utf-8-sig")
    assert "'-" not in ledger  # negative amounts are numbers, not quoted text
    assert json.loads(privacy.as_json(data, NOW))["sections"]["profile"][0]["name"] == "Ada Lovelace"


def snapshot(w):
    course = w.ada.course_id
    return {
        "balances": {who: balances(course, getattr(w, who).user_id) for who in ("ada", "bo")},
        "ledger": db.session.execute(select(func.count(), func.sum(LedgerEntry.amount))).one(),
        "totals": sorted(db.session.execute(select(PointsTotal.user_id, PointsTotal.dimension, PointsTotal.points))),
        "board": [(r.rank, r.points) for r in board(Scope.course(course)).rows],
        "org_board": [(r.rank, r.points) for r in board(Scope.organisation(w.ada.organisation_id)).rows],
    }


def test_erasure_removes_text_and_names_and_keeps_every_total(world):
    before = snapshot(world)
    assert verify(world.ada.organisation_id) == {}
    preview_user, counts = privacy.erase_preview(world.admin, world.ada.user_id)
    assert preview_user.name == "Ada Lovelace" and counts["experiments"] == 2 and counts["kudos"] == 1

    result = privacy.erase(world.admin, world.ada.user_id, "ERASE", later(5))

    assert snapshot(world) == before
    assert verify(world.ada.organisation_id) == {}
    user = db.session.get(User, world.ada.user_id)
    assert user.name == result.pseudonym and user.name.startswith("Erased learner ")
    assert user.email is None and user.sub != "ada" and user.erased_at is not None
    data = export_person(world.ada.organisation_id, world.ada.user_id)
    dump = json.dumps(data)
    for secret in ("Ada Lovelace", ADA_EMAIL, "Ms Grey", "chain prompts", "brilliant clinic", "coached three",
                   "intranet.example", "Checked every figure", "nailed it", PRIVATE_EMAIL):
        assert secret not in dump, secret
    assert {e["tried"] for e in data["experiments"]} == {ERASED}
    assert db.session.scalars(select(Experiment.shingle_hashes).where(  # nor their words' hashes
        Experiment.user_id == world.ada.user_id)).all() == [None, None]
    assert {e["outcome"] for e in data["experiments"]} == {"worked", "failed"}
    assert all(e["hidden_at"] for e in data["experiments"])  # gone from the shared library
    assert data["ledger"] and data["badge_awards"] and data["teams"]  # ids and amounts stay
    assert PRIVATE_EMAIL not in json.dumps([i.payload for i in db.session.scalars(select(OutboxItem))])
    # Nobody sees the person named on a board, not even by the pseudonym.
    rows = board(Scope.course(world.ada.course_id), viewer_user_id=world.bo.user_id).rows
    assert ANONYMOUS in [r.name for r in rows] and result.pseudonym not in [r.name for r in rows]
    events = audit("privacy.erased")
    assert [(e.actor_user_id, e.target_id) for e in events] == [(world.admin.user_id, world.ada.user_id)]
    assert "Ada Lovelace" not in json.dumps(events[0].details)


def test_after_erasure_a_new_launch_starts_a_fresh_account_and_a_second_erase_changes_nothing(world):
    privacy.erase(world.admin, world.ada.user_id, "ERASE", later(5))
    again = privacy.erase(world.admin, world.ada.user_id, "ERASE", later(6))
    assert again.already and len(audit("privacy.erased")) == 1
    _course, fresh, _m = tenancy.provision(identity(world.platform, "ada", name="Ada Lovelace"), later(7))
    assert fresh.id != world.ada.user_id and fresh.name == "Ada Lovelace"
    assert balances(world.ada.course_id, fresh.id) == {}
    assert db.session.get(User, world.ada.user_id).name.startswith("Erased learner ")


def test_verify_aggregates_command_finds_no_difference_after_an_erasure(world, cli):
    privacy.erase(world.admin, world.ada.user_id, "ERASE", later(5))
    db.session.commit()
    result = cli("ledger", "verify-aggregates")
    assert result.exit_code == 0, result.output
    assert "match" in result.output


def test_erasure_is_for_admins_of_the_organisation_and_learners_only(world):
    with pytest.raises(Forbidden):
        privacy.erase(world.bo, world.ada.user_id, "ERASE", NOW)
    with pytest.raises(Forbidden):
        privacy.erase(world.boss, world.ada.user_id, "ERASE", NOW)
    with pytest.raises(Forbidden):
        privacy.erase(world.admin, world.boss.user_id, "ERASE", NOW)  # staff hold other people's records
    with pytest.raises(NotFound):
        privacy.erase(world.twin_admin, world.ada.user_id, "ERASE", NOW)
    with pytest.raises(InvalidInput):
        privacy.erase(world.admin, world.ada.user_id, "yes", NOW)
    # A person who is a manager in any course of the organisation counts as staff.
    make_actor(world.platform, "bo", Role.MANAGER, context_id="course-2")
    with pytest.raises(Forbidden):
        privacy.erase(world.admin, world.bo.user_id, "ERASE", NOW)
    assert db.session.get(User, world.ada.user_id).erased_at is None and not audit("privacy.erased")


def test_retention_blanks_only_old_experiment_text_and_keeps_facts_and_points(world):
    before = snapshot(world)
    with pytest.raises(Forbidden):
        privacy.change_retention(world.boss, {"days": "30"}, NOW)
    assert privacy.change_retention(world.admin, {"days": "30"}, NOW) == 30
    assert [e.details for e in audit("privacy.retention_changed")] == [{"experiment_text_retention_days": [None, 30]}]

    assert purge_expired(NOW) == {world.ada.organisation_id: 1}
    old, recent = db.session.get(Experiment, world.old.id), db.session.get(Experiment, world.experiment.id)
    db.session.refresh(old)
    assert (old.title, old.tried, old.learned) == (PURGED_TITLE, "", "") and old.text_purged_at == NOW
    assert old.shingle_hashes is None  # nor its words' hashes (PostgreSQL keeps them to compare texts)
    assert (old.outcome, old.reflection_chars > 0, old.user_id) == ("failed", True, world.ada.user_id)
    assert recent.tried == ADA_TEXT and recent.text_purged_at is None
    twin_text = db.session.scalar(select(Experiment.tried).where(Experiment.user_id == world.twin.user_id))
    assert twin_text == "Org B private text about budgets"  # Org B keeps its text: no retention set there
    assert snapshot(world) == before
    assert [e.details for e in audit("privacy.text_purged")] == [{"experiments": 1, "older_than_days": 30}]
    assert purge_expired(NOW + timedelta(minutes=1)) == {}  # nothing left to purge, nothing audited twice

    assert privacy.change_retention(world.admin, {"days": ""}, later(1)) is None
    with pytest.raises(Exception) as err:
        privacy.change_retention(world.admin, {"days": "0"}, later(2))
    assert "3650" in str(err.value.messages)


def test_the_purge_runs_from_its_command_and_from_the_outbox_cron(world, cli):
    privacy.change_retention(world.admin, {"days": "30"}, NOW)
    db.session.commit()
    result = cli("privacy", "purge")
    assert result.exit_code == 0 and "Org A: text removed from 3 experiments" in result.output, result.output
    db.session.expire_all()
    purged = db.session.scalars(select(Experiment.text_purged_at).where(
        Experiment.organisation_id == world.ada.organisation_id)).all()
    assert purged and all(purged)  # logged in 2025, far past 30 days by today's clock
    twin_text = db.session.scalar(select(Experiment.tried).where(Experiment.user_id == world.twin.user_id))
    assert twin_text == "Org B private text about budgets"


def test_the_outbox_cron_purges_too_and_says_so(world, cli):
    privacy.change_retention(world.admin, {"days": "30"}, NOW)
    db.session.commit()
    result = cli("outbox", "run")
    assert result.exit_code == 0, result.output
    assert "Privacy: text removed from 3 experiments" in result.output
    again = cli("privacy", "purge")
    assert again.exit_code == 0 and "Privacy: 0 experiments purged." in again.output


def test_help_waiting_for_an_answer_when_a_learner_is_erased_is_no_longer_asked_about(world):
    """Ada said she helped Bo and Bo had not answered yet: after her erasure Bo is not asked to confirm help from an
    "Erased learner" (a yes would pay the erased account); help Ada was asked about goes the same way."""
    from plugin.peer_help.service import I_HELPED, awaiting_me, record_help

    record_help(world.ada, other_user_id=world.bo.user_id, direction=I_HELPED, description="Showed Bo the checks",
                now=later(1))
    record_help(world.bo, other_user_id=world.ada.user_id, direction=I_HELPED, description="Showed Ada the rubric",
                now=later(1))
    assert len(awaiting_me(world.bo)) == 1
    privacy.erase(world.admin, world.ada.user_id, "ERASE", later(5))
    assert awaiting_me(world.bo) == []
    assert awaiting_me(world.ada) == []


def test_evidence_waiting_for_review_when_a_learner_is_erased_leaves_the_queue_and_earns_nothing(world):
    """Bo's mission evidence waits for review when he is erased: it leaves the manager's queue, and a review already
    on its way (the page was open) is refused: it kept a new comment about him and paid his account the mission's
    badge and points. (Found by an erasure review.)"""
    from plugin.challenges import missions
    from plugin.challenges.models import MissionEvidence
    from plugin.challenges.schemas import EvidenceIn, ReviewIn
    from plugin.errors import Conflict

    evidence = missions.submit_evidence(world.bo, world.mission.id, EvidenceIn().load({"text": "Bo's rubric"}),
                                        later(1))
    assert [e.id for e, _c in missions.review_queue(world.boss)] == [evidence.id]
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.user_id == world.bo.user_id))
    privacy.erase(world.admin, world.bo.user_id, "ERASE", later(5))
    db.session.commit()
    assert missions.review_queue(world.boss) == []
    with pytest.raises(Conflict):
        missions.review_evidence(world.boss, evidence.id, ReviewIn().load(
            {"decision": "accept", "comment": "Great work Bo, loved the Ms Grey part"}), later(6))
    db.session.rollback()
    kept = db.session.get(MissionEvidence, evidence.id)
    assert (kept.status, kept.text, kept.review_comment) == ("returned", ERASED, ERASED)
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.user_id == world.bo.user_id)) == entries


def test_an_erased_learner_is_offered_for_no_team_and_cannot_be_added_to_one(world):
    from plugin.teams.service import add_members, candidates, ensure_team

    privacy.erase(world.admin, world.bo.user_id, "ERASE", later(5))
    team = ensure_team(world.boss.course_id, "Blue", later(6))
    assert world.bo.user_id not in [u.id for u in candidates(world.boss, team.id)[0]]
    with pytest.raises(InvalidInput):
        add_members(world.boss, team.id, [world.bo.user_id], later(6))


def _saving(world, kind: str, text: str, now):
    """What the test saves while Ada is erased: returns (save(), where its text is kept: (model, column))."""
    from plugin.challenges import missions
    from plugin.challenges.models import MissionEvidence
    from plugin.challenges.schemas import ChallengeIn, EvidenceIn
    from plugin.challenges.service import create_challenge
    from plugin.community.models import Report
    from plugin.community.service import report
    from plugin.peer_help.models import PeerHelp
    from plugin.peer_help.service import HELPED_ME, I_HELPED, record_help
    from plugin.recognition.models import Kudos
    from plugin.recognition.service import give_kudos

    ada, bos_id = world.ada, world.bos.id
    if kind == "evidence":
        tool = items(ada.organisation_id, "tools")[0].id
        mission = create_challenge(world.boss, ChallengeIn().load({
            "title": "Second mission", "goal_kind": "count", "goal_value": "2", "starts_at": "2025-03-01T00:00",
            "ends_at": "2025-04-01T00:00", "is_mission": "on", "scenario": "Draft a memo.",
            "reflection_prompt": "What would you check?", "tools": [str(tool)]}), NOW)
        mission_id = mission.id  # read here: the thread saving it must not reload it through this session
        return (lambda: missions.submit_evidence(ada, mission_id, EvidenceIn().load({"text": text}), now).id,
                MissionEvidence.text)
    saves = {
        "experiment": (lambda: log(ada, now, tried=text).experiment.id, Experiment.tried),
        "kudos": (lambda: give_kudos(world.boss, receiver_id=ada.user_id, message=text, now=now,
                                     submission_key="kudos-in-flight", points=5).id, Kudos.message),
        "help": (lambda: record_help(world.bo, other_user_id=ada.user_id, direction=HELPED_ME, now=now,
                                     description=text).help.id, PeerHelp.description),
        "own help": (lambda: record_help(ada, other_user_id=world.bo.user_id, direction=I_HELPED, now=now,
                                         description=text).help.id, PeerHelp.description),
        "report": (lambda: report(ada, bos_id, text, now) or db.session.scalar(
            select(Report.id).where(Report.reporter_id == ada.user_id)), Report.reason),
    }
    return saves[kind]


@pytest.mark.parametrize("saving", ["experiment", "kudos", "help", "evidence", "report"])
def test_what_is_being_saved_about_a_person_while_they_are_erased_is_erased_too(world, app, saving):
    """The learner presses Save (or their manager sends kudos) as the admin erases them: the erasure must wait for
    it and erase it, not miss it and leave its text (and the statements naming the person) behind."""
    from plugin.outbox.models import PENDING
    from plugin.xapi import service as xapi
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    xapi.update_settings(world.admin, xapi.XIn().load({"enabled": True, "endpoint": "https://lrs.example/xapi",
                                                       "key": "tinker", "secret": "s3cret", "send_email": True}),
                         later(0))
    ada, admin = world.ada, world.admin
    save, kept_in = _saving(world, saving, "Ms Grey loved Ada's prompt clinic", later(4))

    def erase():
        return privacy.erase(admin, ada.user_id, "ERASE", later(5)).pseudonym

    saved, _pseudonym = while_the_first_waits_to_commit(app, save, erase)
    db.session.expire_all()
    assert db.session.scalar(select(kept_in).where(kept_in.class_.id == saved)) == ERASED
    dump = json.dumps(export_person(ada.organisation_id, ada.user_id))
    assert "Ms Grey" not in dump and "Ada Lovelace" not in dump
    waiting = [i.payload for i in db.session.scalars(select(OutboxItem).where(OutboxItem.status == PENDING))]
    assert not any("Ms Grey" in json.dumps(p) or ADA_EMAIL in json.dumps(p) for p in waiting)


@pytest.mark.parametrize("saving", ["experiment", "own help", "evidence", "report"])
def test_what_a_person_saves_while_their_erasure_runs_is_refused_not_kept(world, app, saving):
    """The other order: the admin's erasure has begun when Ada (her request already past its session check) presses
    Save. Her entry must not be kept with its text under the erased account, where the library and the staff's
    pages would show it: she is told her account was erased, and nothing of it is stored."""
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    text = "Asked it to rewrite Ms Grey's appraisal notes"
    save, kept_in = _saving(world, saving, text, later(6))

    def erase():
        return privacy.erase(world.admin, world.ada.user_id, "ERASE", later(5)).pseudonym

    def refused_or_saved():
        try:
            return save()
        except Forbidden as refused:
            return str(refused)

    _pseudonym, saved = while_the_first_waits_to_commit(app, erase, refused_or_saved)
    db.session.expire_all()
    assert "erased" in saved
    assert db.session.scalar(select(func.count()).select_from(kept_in.class_).where(kept_in == text)) == 0
    assert verify(world.ada.organisation_id) == {}  # nothing half-written: the boards agree with the ledger


def test_a_retention_period_saved_twice_at_once_is_audited_once(world, appctx):
    """A double click on Save: the second request finds the period set and records no second change."""
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    admin = world.admin
    while_the_first_waits_to_commit(appctx, lambda: privacy.change_retention(admin, {"days": "30"}, NOW),
                                    lambda: privacy.change_retention(admin, {"days": "30"}, NOW))
    db.session.expire_all()
    assert [e.details for e in audit("privacy.retention_changed")] == [{"experiment_text_retention_days": [None, 30]}]
