"""A course where one learner (Ada) has a bit of everything, built through the real services, plus a second
organisation whose learner shares Ada's LMS id."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from plugin.badges import recipients
from plugin.badges.models import BadgeClass
from plugin.catalog.service import items
from plugin.challenges import missions
from plugin.challenges.schemas import ChallengeIn, EvidenceIn, ReviewIn
from plugin.challenges.service import create_challenge
from plugin.community.service import mark_reused, react, report
from plugin.core.actor import Role
from plugin.extensions import db
from plugin.peer_help.service import HELPED_ME, record_help
from plugin.recognition.service import award_badge_manually, give_kudos
from plugin.teams.service import add_members, ensure_team
from tests.services.factories import NOW, log, make_actor, make_platform

ADA_TEXT = "Pasted the minutes of the Tuesday board meeting about Ms Grey"
ADA_EMAIL = "ada@example.edu"
PRIVATE_EMAIL = "ada.private@example.org"


def build():
    platform = make_platform()
    w = SimpleNamespace(platform=platform, boss=make_actor(platform, "boss", Role.MANAGER, name="The Boss"),
                        admin=make_actor(platform, "admin", Role.ADMIN, name="The Admin"),
                        ada=make_actor(platform, "ada", name="Ada Lovelace", email=ADA_EMAIL),
                        bo=make_actor(platform, "bo", name="Bo Diddley"))
    w.old = log(w.ada, now=NOW - timedelta(days=40), tried=ADA_TEXT + " long ago",
                learned="Never paste names again; the tool kept them.", outcome="failed").experiment
    w.experiment = log(w.ada, tried=ADA_TEXT, learned="Checked every figure by hand afterwards.").experiment
    w.bos = log(w.bo).experiment
    react(w.bo, w.experiment.id, "helpful", NOW)
    mark_reused(w.bo, w.experiment.id, NOW)
    react(w.ada, w.bos.id, "helpful", NOW)
    report(w.bo, w.experiment.id, "Names Ms Grey from finance", NOW)
    record_help(w.ada, other_user_id=w.bo.user_id, direction=HELPED_ME, now=NOW,
                description="Bo showed Ada how to chain prompts")
    give_kudos(w.boss, receiver_id=w.ada.user_id, message="Ada ran a brilliant clinic", now=NOW,
               submission_key="kudos-ada", points=10)
    champion = db.session.scalar(select(BadgeClass).where(BadgeClass.organisation_id == w.ada.organisation_id,
                                                          BadgeClass.slug == "champion"))
    award_badge_manually(w.boss, receiver_id=w.ada.user_id, badge_id=champion.id, comment="Ada coached three people",
                         now=NOW, evidence_url="https://intranet.example/ada")
    recipients.request_email(w.ada, PRIVATE_EMAIL, lambda token: f"http://localhost/confirm/{token}", NOW)
    team = ensure_team(w.ada.course_id, "Red", NOW)
    add_members(w.boss, team.id, [w.ada.user_id], NOW)
    tool = items(w.ada.organisation_id, "tools")[0].id
    w.mission = create_challenge(w.boss, ChallengeIn().load({
        "title": "Rubric mission", "goal_kind": "count", "goal_value": "2", "starts_at": "2025-03-01T00:00",
        "ends_at": "2025-04-01T00:00", "is_mission": "on", "scenario": "Draft a rubric.",
        "reflection_prompt": "What would you check?", "tools": [str(tool)]}), NOW)
    evidence = missions.submit_evidence(w.ada, w.mission.id, EvidenceIn().load({"text": "Ada's rubric for Ms Grey's unit"}),
                                        NOW)
    missions.review_evidence(w.boss, evidence.id, ReviewIn().load({"decision": "accept", "comment": "Ada nailed it"}),
                             NOW)

    w.other = make_platform(issuer="https://other.example", organisation="Org B")
    w.twin = make_actor(w.other, "ada", name="Ada Elsewhere")  # same LMS id, another organisation
    w.twin_admin = make_actor(w.other, "admin-b", Role.ADMIN, name="Admin B")
    log(w.twin, tried="Org B private text about budgets")
    db.session.flush()
    return w
