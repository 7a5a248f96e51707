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
from plugin.leaderboards import reconcile
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
    # Each person's ideas in a course come in a shuffled order, none twice (a repeat would be a near-duplicate).
    ideas: dict[tuple[str, str], list[tuple[str, str, str]]] = {}

    def idea(sub: str, context_id: str) -> tuple[str, str, str]:
        queue = ideas.setdefault((sub, context_id), [])
        if not queue:
            queue.extend(rng.sample(IDEAS, len(IDEAS)))
        return queue.pop()

    # Logged in date order afterwards, as people would have: badges and "first" awards follow the calendar, and
    # the lists (newest first) read in date order.
    planned: list[tuple[datetime, Actor, dict]] = []
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
                reconcile.team_members_changed(team.id)
            if not (role.value == "learner" or person.sub == "dev-manager-1"):
                continue
            actor = Actor(user_id=user.id, course_id=course.id, organisation_id=course.organisation_id,
                          platform_id=platform.id, role=role)
            for _ in range(rng.randint(0, 6)):
                title, tried, learned = idea(person.sub, context_id)
                outcome = rng.choices(["worked", "partly", "failed"], weights=[5, 3, 2])[0]
                sensitive = rng.choices(["no", "unsure"], weights=[12, 1])[0]
                when = start + timedelta(minutes=rng.randint(0, 8 * 7 * 24 * 60 - 60))
                use_other = rng.random() < 0.1
                planned.append((when, actor, {
                    "submission_key": secrets.token_hex(8), "title": title,
                    "ai_tool": "other" if use_other else str(rng.choice(tools).id),
                    "ai_tool_other": "An internal chatbot" if use_other else "",
                    "task_category": rng.choice(categories).id, "tried": tried, "outcome": outcome,
                    "learned": learned if outcome != "worked" or rng.random() < 0.7 else "",
                    "minutes_saved": rng.choice([0, 10, 15, 30, 45, 60, 90]) if outcome != "failed" else 0,
                    "sensitive_data": sensitive, "visibility": rng.choice(["course", "course", "team", "private"]),
                }))
                counts["experiments"] += 1
    db.session.flush()
    counts.update(_vision_and_insights(platform, now, rng, idea, planned))
    counts["challenges"] = _challenges(platform, tools, categories, now)
    counts["badge_awards"] = _open_badges(platform, now)
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



def _open_badges(platform: Platform, now: datetime) -> int:
    """An issuer profile with an e-mail, and hand-awarded badges to learners whose identities are claimed
    (LMS e-mail; one learner confirmed another address and shows their name), so the export verifies."""
    from plugin.badges.models import BadgeAward, BadgeClass, Issuer, Recipient
    from plugin.badges.service import BadgeGrant, award_badge
    from plugin.tenancy.models import Course, Membership, User

    org_id = platform.organisation_id
    if db.session.get(Issuer, org_id) is None:
        db.session.add(Issuer(organisation_id=org_id, name="Tinker Demo Academy", url="https://demo.tinker.example",
                              email="badges@demo.tinker.example", description="Demo issuer for Tinker badges.",
                              updated_at=now))
    badge = db.session.scalar(select(BadgeClass).where(BadgeClass.organisation_id == org_id,
                                                       BadgeClass.manual.is_(True)).order_by(BadgeClass.id))
    course = db.session.scalar(select(Course).where(Course.platform_id == platform.id).order_by(Course.id))
    if badge is None or course is None:
        return 0
    learners = list(db.session.scalars(select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.course_id == course.id, Membership.role == Role.LEARNER.value).order_by(User.id).limit(3)))
    # Given by the course's instructor with a reason, as a manager's award is: the learner's page names who gave it,
    # and the manager's "not yet recognised" nudge counts it.
    manager_id = db.session.scalar(select(User.id).where(User.platform_id == platform.id, User.sub == "dev-manager-1"))
    awarded = 0
    for user in learners:
        award_id = award_badge(BadgeGrant(badge_id=badge.id, organisation_id=org_id, course_id=course.id,
                                          user_id=user.id, key=f"demo:badge:{badge.id}:user:{user.id}",
                                          source_type="manual"), now)
        if award_id:
            award = db.session.get(BadgeAward, award_id)
            award.awarded_by_id, award.comment = manager_id, "Ran a prompt clinic for the team."
            awarded += 1
    if learners and db.session.get(Recipient, learners[0].id) is None:
        db.session.add(Recipient(user_id=learners[0].id, kind="email", identity="learner.one@home.example",
                                 confirmed_at=now, show_name=True, updated_at=now))
    db.session.flush()
    return awarded


DEMO_VISION = """We try AI so that people get **time back** for the work only people can do: coaching, judgement
and care for our customers.

We would rather see ten small experiments that did not work, shared openly, than one polished success kept
quiet. Trying is the job; nobody is judged on an experiment that flopped."""

DEMO_GUIDANCE = """- Use the **approved tools** listed above; if you try another one, say so: you will get tips, not trouble.
- Never paste customer names, health data or salaries. Replace them with made-up ones.
- Check every figure and every quote the tool gives you before it leaves your desk.
- Say when a text was drafted with AI."""

NEW_TO_THE_VISION = {"dev-learner-21", "dev-learner-22"}
DEMO_PILLARS = [("Time back for people", "Hand repetitive drafting and summarising to AI."),
                ("Better service for customers", "Faster, clearer answers and materials."),
                ("Learning together", "Share what worked and what did not."),
                ("Safe by default", "Responsible use: data, accuracy, transparency.")]


def _vision_and_insights(platform: Platform, now: datetime, rng: random.Random, idea,
                         planned: list[tuple[datetime, Actor, dict]]) -> dict[str, int]:
    """The AI vision, then a quarter's worth of tagged, confidence-rated experiments, cross-team help and reuses
    in the first course, so the insights pages answer "how many hours did my team save this quarter, in which
    tasks, and is it still only the same two people?". A pilot team of three shows the minimum group size.
    The experiments `planned` before are logged with these, all in date order."""
    from plugin.community.service import mark_reused
    from plugin.insights.periods import QUARTER
    from plugin.insights.periods import current_key as period_key
    from plugin.insights.periods import window as period_window
    from plugin.peer_help.service import I_HELPED, confirm_help, record_help
    from plugin.settings.service import time_zone
    from plugin.tenancy.models import Course, Membership, User
    from plugin.vision import service as vision
    from plugin.vision.schemas import VisionIn

    org = platform.organisation_id
    course = db.session.scalar(select(Course).where(Course.platform_id == platform.id,
                                                    Course.context_id == COURSES[0].context_id))
    users = {u.sub: u for u in db.session.scalars(select(User).where(User.platform_id == platform.id))}

    def actor_for(sub: str) -> Actor:
        role = db.session.scalar(select(Membership.role).where(Membership.course_id == course.id,
                                                               Membership.user_id == users[sub].id))
        return Actor(user_id=users[sub].id, course_id=course.id, organisation_id=org, platform_id=platform.id,
                     role=Role(role))

    tools = items(org, "tools")
    categories = items(org, "categories")
    approved = {t.id for t in tools[:3]}
    vision.save_vision(actor_for("dev-admin-1"), VisionIn().load({
        "statement": DEMO_VISION, "guidance": DEMO_GUIDANCE,
        "pillars": [{"name": n, "description": d} for n, d in DEMO_PILLARS],
        "tools": [{"ai_tool_id": t.id, "approved": t.id in approved,
                   "data_note": "Public and made-up data only; no customer or staff records." if t.id in approved
                   else ""} for t in tools]}), now)
    pillar_ids = [p.id for p in vision.pillars(org)]
    # Learners read it already, but for two who meet it on their first launch (Merve Aksoy, Isla Morgan).
    version = vision.current(org).vision.version
    for person in PEOPLE:
        if person.sub.startswith("dev-learner-") and person.sub not in NEW_TO_THE_VISION:
            vision.acknowledge(Actor(user_id=users[person.sub].id, course_id=course.id, organisation_id=org,
                                     platform_id=platform.id, role=Role.LEARNER), version, now)

    # This quarter: every team member logs, so it is visibly not "the same two people".
    learners = [p for p in PEOPLE if p.team and COURSES[0].context_id in p.courses]
    tz = time_zone(org)
    quarter = period_window(period_key(QUARTER, now, tz), tz)
    span = max(60, int((now - quarter.starts_at).total_seconds() // 60) - 5)
    counts = {"tagged_experiments": 0, "helps": 0, "reuses": 0}
    tagged: list[tuple[datetime, Actor, dict]] = []
    for person in learners:
        actor = actor_for(person.sub)
        team_index = TEAMS.index(person.team)
        main = [categories[team_index % len(categories)], categories[(team_index + 1) % len(categories)]]
        for n in range(rng.randint(2, 4)):
            # Each team has its favourite task and tool, so team-level breakdowns have groups large enough to show.
            category = main[0] if n == 0 else (main[1] if rng.random() < 0.7 else rng.choice(categories[:4]))
            tool = tools[team_index] if n == 0 else rng.choice(tools)
            title, tried, learned = idea(person.sub, COURSES[0].context_id)
            outcome = rng.choices(["worked", "partly", "failed"], weights=[5, 3, 3])[0]
            # Sales Enablement has not tried anything for "Safe by default" yet: a gap the pillar table shows.
            choices = pillar_ids if person.team != TEAMS[1] else pillar_ids[:3]
            rated = rng.random() < 0.75
            before = rng.randint(1, 3)
            tagged.append((quarter.starts_at + timedelta(minutes=rng.randint(0, span)), actor, {
                "submission_key": secrets.token_hex(8), "title": title, "ai_tool": str(tool.id),
                "ai_tool_other": "", "task_category": category.id, "tried": tried, "outcome": outcome,
                "learned": learned if outcome != "worked" else "",
                "minutes_saved": rng.choice([15, 20, 30, 45, 60, 90, 120]) if outcome != "failed" else 0,
                "sensitive_data": "no", "visibility": rng.choice(["course", "course", "team"]),
                "pillars": rng.sample(choices, rng.randint(1, 2)),
                "confidence_before": before if rated else None,
                "confidence_after": min(5, before + rng.choice([0, 1, 1, 2])) if rated else None,
            }))
            counts["tagged_experiments"] += 1
    logged = []  # the tagged ones, in date order
    quarterly = {id(entry) for entry in tagged}
    for entry in sorted(planned + tagged, key=lambda e: e[0]):
        when, actor, data = entry
        result = log_experiment(actor, data, when)
        if id(entry) in quarterly:
            logged.append(result.experiment)

    # Confirmed help, most of it across teams.
    people = [p.sub for p in learners]
    for _ in range(36):
        helper, helped = rng.sample(people, 2)
        when = quarter.starts_at + timedelta(minutes=rng.randint(0, span))
        result = record_help(actor_for(helper), other_user_id=users[helped].id, direction=I_HELPED,
                             description="Showed how to write a better prompt for this task.", now=when)
        confirm_help(actor_for(helped), result.help.id, when + timedelta(minutes=5))
        counts["helps"] += 1

    # Three shared experiments that many colleagues reused this week.
    for experiment in [e for e in logged if e.visibility == "course"][:3]:
        for sub in rng.sample([s for s in people if users[s].id != experiment.user_id], 6):
            if mark_reused(actor_for(sub), experiment.id, now - timedelta(minutes=rng.randint(1, 60))):
                counts["reuses"] += 1

    # A pilot team of three: every insight about it says there are not enough people to report.
    pilot = teams.ensure_team(course.id, "Data Protection Pilot", now)
    for person in learners[:3]:
        teams.add_member(pilot, users[person.sub].id)
    reconcile.team_members_changed(pilot.id)
    db.session.flush()
    return counts
