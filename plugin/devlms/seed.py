"""Demo data, created through the domain services (never raw inserts): the dev LMS's people, their teams
and eight weeks of experiments. Later features extend this seeder with what they add."""
from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select

from plugin.catalog.service import items
from plugin.core.actor import Actor, Role
from plugin.devlms.roster import (
    CLIENT_ID,
    COURSES,
    DEPLOYMENT_ID,
    ISSUER_PATH,
    LMS_ROLES,
    ORGANISATION,
    PEOPLE,
    TEAMS,
)
from plugin.experiments.models import Experiment
from plugin.experiments.service import log_experiment
from plugin.extensions import db
from plugin.leaderboards import aggregates
from plugin.lti.roles import map_roles
from plugin.onboarding.service import ensure_defaults
from plugin.teams import service as teams
from plugin.tenancy import service as tenancy
from plugin.tenancy.models import Platform

IDEAS = [
    ("Drafted a workshop outline with AI", "Asked for a 90-minute outline on feedback skills, then edited it.",
     "A good skeleton; the timings needed my judgement."),
    ("Summarised a 40-page policy", "Pasted the public policy and asked for a one-page summary for managers.",
     "Check every number: it invented one figure."),
    ("Generated quiz questions", "Asked for 10 multiple-choice questions on GDPR basics with distractors.",
     "Distractors were too easy at first; a better prompt fixed it."),
    ("Rewrote a job advert for clarity", "Asked for plain-English rewrites at reading age 12.",
     "Tone improved; I kept our legal wording as it was."),
    ("Built a spreadsheet formula", "Described the lookup I needed and asked for the formula.",
     "Worked first time once I described the columns precisely."),
    ("Tried to analyse survey comments", "Asked it to cluster 200 free-text comments into themes.",
     "Themes were too generic; I learned to give it example categories first."),
    ("Meeting notes to action list", "Turned rough meeting notes into owners and deadlines.",
     "Saved time; it missed one implicit action."),
    ("Translated onboarding FAQ into Turkish", "Asked for a Turkish version of our onboarding FAQ.",
     "Needed a native speaker's review for HR terms."),
    ("Role-play for a difficult conversation", "Asked it to play an upset customer so I could practise.",
     "Surprisingly useful practice; set the scenario clearly."),
    ("Automated a weekly report email", "Asked for a script to build the weekly summary email.",
     "The script failed on our data export; I learned to share the exact column names."),
]


def demo_platform_spec(base_url: str) -> tenancy.PlatformSpec:
    issuer = base_url + ISSUER_PATH
    return tenancy.PlatformSpec(
        issuer=issuer, client_id=CLIENT_ID, auth_login_url=f"{issuer}/auth", auth_token_url=f"{issuer}/token",
        key_set_url=f"{issuer}/jwks", deployment_ids=(DEPLOYMENT_ID,), organisation=ORGANISATION,
        name="Tinker development LMS")


def demo_organisation_id(base_url: str) -> int:
    return db.session.scalar(select(Platform.organisation_id).where(Platform.issuer == base_url + ISSUER_PATH))


def already_seeded(base_url: str) -> bool:
    platform = db.session.scalar(select(Platform).where(Platform.issuer == base_url + ISSUER_PATH))
    if platform is None:
        return False
    return bool(db.session.scalar(select(func.count()).select_from(Experiment)
                                  .where(Experiment.organisation_id == platform.organisation_id)))


def seed(base_url: str, now: datetime, rng_seed: int = 7) -> dict[str, int]:
    rng = random.Random(rng_seed)
    platform = tenancy.register_platform(demo_platform_spec(base_url), now)
    ensure_defaults(platform.organisation_id, now)
    deployment = tenancy.find_deployment(platform.id, DEPLOYMENT_ID)
    tools = items(platform.organisation_id, "tools")
    categories = items(platform.organisation_id, "categories")
    counts = {"people": 0, "experiments": 0}
    start = now - timedelta(weeks=8)
    for person in PEOPLE:
        for context_id, lms_role in person.courses.items():
            course_info = next(c for c in COURSES if c.context_id == context_id)
            role = map_roles(LMS_ROLES[lms_role])
            identity = tenancy.LaunchIdentity(
                platform_id=platform.id, deployment_pk=deployment.id, context_id=context_id,
                context_title=course_info.title, context_label=course_info.label, sub=person.sub, role=role,
                lti_roles=tuple(LMS_ROLES[lms_role]), name=person.name, email=person.email, locale=person.locale)
            course, user, _ = tenancy.provision(identity, start)
            counts["people"] += 1
            if person.team and context_id == COURSES[0].context_id:
                team = teams.ensure_team(course.id, person.team, start)
                teams.add_member(team, user.id)
                aggregates.team_members_changed(team.id)
            if not (role.value == "learner" or person.sub == "dev-manager-1"):
                continue
            actor = Actor(user_id=user.id, course_id=course.id, organisation_id=course.organisation_id,
                          platform_id=platform.id, role=role)
            for _ in range(rng.randint(0, 6)):
                title, tried, learned = rng.choice(IDEAS)
                outcome = rng.choices(["worked", "partly", "failed"], weights=[5, 3, 2])[0]
                sensitive = rng.choices(["no", "unsure"], weights=[12, 1])[0]
                when = start + timedelta(minutes=rng.randint(0, 8 * 7 * 24 * 60 - 60))
                use_other = rng.random() < 0.1
                log_experiment(actor, {
                    "submission_key": secrets.token_hex(8), "title": title,
                    "ai_tool": "other" if use_other else str(rng.choice(tools).id),
                    "ai_tool_other": "An internal chatbot" if use_other else "",
                    "task_category": rng.choice(categories).id, "tried": tried, "outcome": outcome,
                    "learned": learned if outcome != "worked" or rng.random() < 0.7 else "",
                    "minutes_saved": rng.choice([0, 10, 15, 30, 45, 60, 90]) if outcome != "failed" else 0,
                    "sensitive_data": sensitive, "visibility": rng.choice(["course", "course", "team", "private"]),
                }, when)
                counts["experiments"] += 1
    db.session.flush()
    counts["challenges"] = _challenges(platform, tools, categories, now)
    return counts


DEMO_SURVEY = """respondent,team,question,answer
R001,Operations,What slows you down most?,Copying figures between three spreadsheets every Friday
R002,Sales,What slows you down most?,Writing the same follow-up e-mail in slightly different words
R003,Operations,What would you try AI for?,Drafting the weekly summary for my manager
R004,Learning,What would you try AI for?,Turning long policy PDFs into a one-page checklist
R005,Sales,What worries you about AI?,Putting customer names into a tool I do not control
"""


def _challenges(platform: Platform, tools, categories, now: datetime) -> int:
    """Three running challenges in the first course: everyone tries a tool, a team goal, a sandbox mission."""
    from plugin.challenges.schemas import ChallengeIn
    from plugin.challenges.service import create_challenge
    from plugin.tenancy.models import Course, User

    course = db.session.scalar(select(Course).where(Course.platform_id == platform.id,
                                                    Course.context_id == COURSES[0].context_id))
    manager = db.session.scalar(select(User).where(User.platform_id == platform.id, User.sub == "dev-manager-1"))
    champion = db.session.scalar(select(User).where(User.platform_id == platform.id, User.sub == "dev-learner-1"))
    actor = Actor(user_id=manager.id, course_id=course.id, organisation_id=course.organisation_id,
                  platform_id=platform.id, role=Role.MANAGER)
    red = teams.ensure_team(course.id, TEAMS[0], now)
    window = {"starts_at": (now - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M"),
              "ends_at": (now + timedelta(days=14)).strftime("%Y-%m-%dT%H:%M")}
    specs = [
        {"title": "Everyone tries one AI tool", "goal_kind": "participation", "goal_value": 80,
         "description": "Log one experiment, any tool, any task: what didn't work counts too."},
        {"title": f"{red.name}: 15 experiments on {categories[0].name.lower()}", "goal_kind": "count",
         "goal_value": 15, "team": red.id, "task_category": categories[0].id},
        {"title": "Sandbox: summarise a staff survey", "goal_kind": "participation", "goal_value": 50,
         "is_mission": True, "tools": [tools[0].id, tools[1].id], "champion": champion.id,
         "scenario": "The survey below is made up: no real person is in it. Ask an approved tool for the three "
                     "themes it sees and one action per theme, then check each theme against the rows.",
         "reflection_prompt": "Which theme did the tool get wrong or overstate, and how did you notice?",
         "dataset_text": DEMO_SURVEY},
    ]
    for spec in specs:
        create_challenge(actor, ChallengeIn().load({**window, **{k: v for k, v in spec.items() if k != "dataset_text"}}),
                         now, upload=("staff-survey.csv", spec["dataset_text"].encode()) if "dataset_text" in spec else None)
    return len(specs)

