"""Anti-gaming through log_experiment: near-duplicates, diminishing returns, the daily cap, reflections on
failures; and every limit an admin edits is honoured."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from plugin.badges.service import badges_of
from plugin.catalog.service import items
from plugin.core.actor import Role
from plugin.errors import Conflict
from plugin.experiments.models import Experiment
from plugin.experiments.service import share_experiment, update_experiment
from plugin.experiments.similarity import jaccard, shingles
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import balance, reverse_entry
from plugin.peer_help.service import HELPED_ME, record_help
from plugin.recognition.service import give_kudos
from plugin.rules.engine import NOTES
from plugin.rules.models import Rule
from plugin.settings.service import LimitsIn, limits, set_time_zone, update_limits
from tests.services.factories import NOW, later, log, make_actor, make_platform

TITLE = "Summarised committee notes"
NOTES_TEXT = ("Asked the assistant to turn my messy meeting notes from the curriculum committee into a clear list of "
              "decisions, owners and deadlines. Then I checked every item against the recording, fixed two names it "
              "had mixed up, and sent the list to the team the same afternoon instead of the usual three days later, "
              "which everyone noticed and liked.")
REORDERED = NOTES_TEXT.replace("owners and deadlines", "deadlines and owners")


def day(days: int, minutes: int = 0):
    return NOW + timedelta(days=days, minutes=minutes)


@pytest.fixture
def org(appctx):
    platform = make_platform()
    o = SimpleNamespace(platform=platform, admin=make_actor(platform, "admin", Role.ADMIN),
                        boss=make_actor(platform, "boss", Role.MANAGER), ada=make_actor(platform, "ada"),
                        bo=make_actor(platform, "bo"), id=platform.organisation_id)
    o.tools = [str(t.id) for t in items(o.id, "tools")[:2]]
    o.cats = [c.id for c in items(o.id, "categories")[:2]]
    o.logged = db.session.scalar(select(Rule).where(Rule.organisation_id == o.id, Rule.key == "logged"))
    return o


def set_limits(org, **changes) -> None:
    form = {name: str(value) for name, value in {**limits(org.id).__dict__, **changes}.items()}
    update_limits(org.admin, LimitsIn().load(form), NOW)


def paid(org, result) -> int:
    """What 'Logged an experiment' paid for this experiment."""
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.rule_id == org.logged.id, LedgerEntry.source_id == result.experiment.id))


def note(result) -> str:
    return {r.rule_name: r.note for r in result.recognitions}.get("Logged an experiment", "")


def badge_names(actor) -> list[str]:
    return sorted(b.name for _award, b in badges_of(actor.course_id, actor.user_id))


def test_identical_text_is_logged_but_not_paid_again_and_the_author_is_told_why(org):
    first = log(org.ada, title=TITLE, tried=NOTES_TEXT)
    again = log(org.ada, later(30), title=TITLE, tried=NOTES_TEXT)
    db.session.commit()
    assert again.created is True and again.experiment.duplicate_of_id == first.experiment.id
    assert (paid(org, first), paid(org, again)) == (10, 0)
    assert note(again) == "duplicate" and "recently" in NOTES["duplicate"]
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 2
    assert balance(org.ada.course_id, org.ada.user_id) == 10


def test_a_text_logged_three_times_points_to_the_first_entry_not_the_copy_between(org):
    """Equally similar earlier entries: the near-duplicate names the oldest, the original."""
    first = log(org.ada, title=TITLE, tried=NOTES_TEXT)
    log(org.ada, later(30), title="Meeting minutes", tried="Drafted the minutes of the weekly team meeting with it")
    second = log(org.ada, later(60), title=TITLE, tried=NOTES_TEXT)
    third = log(org.ada, later(90), title=TITLE, tried=NOTES_TEXT)
    assert second.experiment.duplicate_of_id == first.experiment.id
    assert third.experiment.duplicate_of_id == first.experiment.id


@pytest.mark.parametrize("in_a_team", [False, True])
def test_the_same_entry_sent_from_two_tabs_at_once_is_paid_once(org, app, in_a_team):
    """Two tabs, one text, each its own form (so not one submission sent twice): the second save waits for the
    first's turn and must then see it, be marked its near-duplicate and earn nothing, not be paid again because it
    looked for earlier entries before the first was committed (PostgreSQL). The same for a learner in a team (whose
    award writes their activity apart from the insert)."""
    from plugin.teams import service as teams
    from plugin.teams.schemas import TeamIn
    from tests.services.test_concurrency import while_the_first_waits_to_commit

    ada = org.ada
    if in_a_team:
        team = teams.create_team(org.boss, TeamIn().load({"name": "Red"}), NOW)
        teams.add_members(org.boss, team.id, [ada.user_id], NOW)
    first, again = while_the_first_waits_to_commit(
        app, lambda: log(ada, later(1), title=TITLE, tried=NOTES_TEXT).experiment.id,
        lambda: log(ada, later(1), title=TITLE, tried=NOTES_TEXT).experiment.id)
    db.session.expire_all()
    assert db.session.get(Experiment, again).duplicate_of_id == first
    assert balance(ada.course_id, ada.user_id) == 10


def test_the_same_words_slightly_reordered_are_a_near_duplicate(org):
    assert jaccard(shingles(TITLE + " " + NOTES_TEXT), shingles(TITLE + " " + REORDERED)) >= 0.8
    first = log(org.ada, title=TITLE, tried=NOTES_TEXT)
    again = log(org.ada, day(2), title=TITLE, tried=REORDERED)
    assert again.experiment.duplicate_of_id == first.experiment.id
    assert (paid(org, again), note(again)) == (0, "duplicate")


def test_different_text_is_paid(org):
    first = log(org.ada, title=TITLE, tried=NOTES_TEXT)
    other = log(org.ada, later(5), title="Drafted a parents' letter",
                tried="Asked for a friendly letter about the trip, then rewrote the opening myself.")
    assert other.experiment.duplicate_of_id is None
    assert (paid(org, first), paid(org, other), note(other)) == (10, 10, "")


@pytest.mark.parametrize("days_before, duplicate", [(91, False), (89, True)])
def test_only_the_last_90_days_are_compared(org, days_before, duplicate):
    old = log(org.ada, NOW - timedelta(days=days_before), title=TITLE, tried=NOTES_TEXT)
    new = log(org.ada, NOW, title=TITLE, tried=NOTES_TEXT)
    assert new.experiment.duplicate_of_id == (old.experiment.id if duplicate else None)
    assert paid(org, new) == (0 if duplicate else 10)


def test_a_new_entry_is_compared_with_the_authors_most_recent_entries_only(org, monkeypatch):
    from plugin.experiments import service

    monkeypatch.setattr(service, "DUPLICATE_RECENT", 3)
    old = log(org.ada, day(-10), title=TITLE, tried=NOTES_TEXT)
    for i in range(2):
        log(org.ada, day(-9 + i), title=f"Other {i}", tried=f"Something else entirely, number {i}, with the tool.")
    within = log(org.ada, day(0), title=TITLE, tried=NOTES_TEXT)  # the old entry is one of the 3 most recent
    assert within.experiment.duplicate_of_id == old.experiment.id
    for i in range(3):
        log(org.ada, day(1, i), title=f"More {i}", tried=f"Yet another different attempt, number {i}, today.")
    beyond = log(org.ada, day(2), title=TITLE, tried=NOTES_TEXT)  # both earlier copies are 3+ entries back
    assert beyond.experiment.duplicate_of_id is None and note(beyond) != "duplicate" and paid(org, beyond) > 0


LETTER = ("Drafted a parents' letter", "Asked for a friendly letter about the trip, then rewrote the opening myself "
          "and added the meeting point and the times the coach leaves and comes back.")


def test_an_entry_reworded_since_is_compared_as_it_now_reads(org):
    """The author rewords an entry: a new one repeating its old words is no near-duplicate of it, one repeating its
    new words is. (PostgreSQL keeps each text's word triples hashed and reads back only the texts sharing one with
    the new entry: a changed text must not be judged by its old words.)"""
    first = log(org.ada, title=TITLE, tried=NOTES_TEXT)
    update_experiment(org.ada, first.experiment.id, {"title": LETTER[0], "tried": LETTER[1]}, later(1))
    old_words = log(org.ada, later(2), title=TITLE, tried=NOTES_TEXT)
    assert old_words.experiment.duplicate_of_id is None and paid(org, old_words) == 10
    new_words = log(org.ada, later(3), title=LETTER[0], tried=LETTER[1])
    assert new_words.experiment.duplicate_of_id == first.experiment.id and paid(org, new_words) == 0


def test_an_entry_logged_before_texts_were_hashed_is_still_compared(org):
    """Entries logged before the word triples were kept (an upgraded installation) have none: their text is
    compared as before."""
    first = log(org.ada, title=TITLE, tried=NOTES_TEXT)
    db.session.execute(update(Experiment).where(Experiment.id == first.experiment.id).values(shingle_hashes=None))
    again = log(org.ada, later(1), title=TITLE, tried=REORDERED)
    assert again.experiment.duplicate_of_id == first.experiment.id and paid(org, again) == 0


def test_a_colleagues_identical_text_is_not_my_duplicate(org):
    log(org.bo, title=TITLE, tried=NOTES_TEXT)
    mine = log(org.ada, later(1), title=TITLE, tried=NOTES_TEXT)
    assert mine.experiment.duplicate_of_id is None and paid(org, mine) == 10


def test_the_same_tool_on_the_same_task_pays_less_after_three_times(org):
    same = [log(org.ada, day(d), ai_tool=org.tools[0], task_category=org.cats[0]) for d in range(5)]
    assert [paid(org, r) for r in same] == [10, 10, 10, 5, 5]
    assert [note(r) for r in same] == ["", "", "", "repeat", "repeat"]
    other_tool = log(org.ada, day(5), ai_tool=org.tools[1], task_category=org.cats[0])
    other_task = log(org.ada, day(6), ai_tool=org.tools[0], task_category=org.cats[1])
    assert (paid(org, other_tool), paid(org, other_task)) == (10, 10)
    month_later = log(org.ada, day(40), ai_tool=org.tools[0], task_category=org.cats[0])
    assert (paid(org, month_later), note(month_later)) == (10, "")


def test_the_daily_cap_stops_experiment_points_until_the_next_day(org):
    """Default: 60 a day. Ten of the same: 10, 10, 10, then 5s (repeats) until the cap, then nothing."""
    today = [log(org.ada, later(n), ai_tool=org.tools[0], task_category=org.cats[0]) for n in range(10)]
    assert [paid(org, r) for r in today] == [10, 10, 10, 5, 5, 5, 5, 5, 5, 0]
    assert note(today[-1]) == "daily_cap"
    assert db.session.scalar(select(func.count()).select_from(Experiment)) == 10  # all logged all the same
    tomorrow = log(org.ada, day(1), ai_tool=org.tools[1], task_category=org.cats[1])
    assert (paid(org, tomorrow), note(tomorrow)) == (10, "")


def test_an_admin_set_daily_cap_is_honoured(org):
    set_limits(org, daily_points_cap=25, repeat_free_count=100)
    today = [log(org.ada, later(n)) for n in range(4)]
    assert [paid(org, r) for r in today] == [10, 10, 5, 0]
    assert [note(r) for r in today] == ["", "", "daily_cap", "daily_cap"]
    tomorrow = log(org.ada, day(1))
    assert paid(org, tomorrow) == 10
    assert balance(org.ada.course_id, org.ada.user_id) == 35


def test_the_daily_cap_keeps_to_the_organisations_day_in_a_zone_a_quarter_hour_off_the_hour(org):
    """Kathmandu is UTC+5:45: its day starts at 18:15 UTC. What is paid just before counts in the day that ends then,
    what is paid from 18:15 in the next (the cap reads the points per UTC quarter hour)."""
    set_limits(org, daily_points_cap=20, repeat_free_count=100)
    set_time_zone(org.admin, "Asia/Kathmandu", NOW)
    midnight = NOW.replace(hour=18, minute=15)  # 2025-03-04 00:00 in Kathmandu
    before = [log(org.ada, midnight - timedelta(minutes=3 - n)) for n in range(3)]  # 18:12, 18:13, 18:14
    after = [log(org.ada, midnight + timedelta(minutes=n)) for n in range(3)]  # 18:15, 18:16, 18:17
    assert [paid(org, r) for r in before + after] == [10, 10, 0, 10, 10, 0]
    assert note(before[-1]) == note(after[-1]) == "daily_cap"


def test_a_day_that_does_not_start_on_a_quarter_hour_is_capped_all_the_same(org):
    """Monrovia kept UTC-0:44:30 until 1972, so its days began at 00:44:30 UTC, off the quarter hours whose points
    the cap reads: such a day's entries are summed instead."""
    set_limits(org, daily_points_cap=20, repeat_free_count=100)
    set_time_zone(org.admin, "Africa/Monrovia", NOW)
    midnight = datetime(1971, 6, 2, 0, 44, 30, tzinfo=timezone.utc)
    before = [log(org.ada, midnight - timedelta(minutes=3 - n)) for n in range(3)]  # 00:41:30 to 00:43:30
    after = [log(org.ada, midnight + timedelta(minutes=n)) for n in range(3)]
    assert [paid(org, r) for r in before + after] == [10, 10, 0, 10, 10, 0]


def test_revoking_yesterdays_award_today_does_not_widen_todays_daily_cap(org):
    set_limits(org, daily_points_cap=30, repeat_free_count=100)
    yesterday = log(org.ada, NOW)
    entry_id = db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.source_id == yesterday.experiment.id))
    reverse_entry(entry_id, "revoked-yesterdays", day(1))  # today: a manager takes yesterday's award back
    today = [log(org.ada, day(1, n + 1)) for n in range(4)]
    assert [paid(org, r) for r in today] == [10, 10, 10, 0]
    assert note(today[-1]) == "daily_cap"


def test_sharing_an_older_entry_pays_within_the_daily_cap_of_the_day_it_is_paid(org):
    """Ada reaches today's cap (20 here), then shares yesterday's private failure: Fail Forward was checked against
    yesterday's room (its entry's day) but paid today, past today's cap; each older entry shared found its own day's
    room again, which what is paid today never used up. It now fits both days' caps: its badge comes, its points not
    today. (Found by a ledger review.)"""
    set_limits(org, daily_points_cap=20, repeat_free_count=100)
    failed = log(org.ada, NOW, outcome="failed", visibility="private",
                 learned="What I learned: it invents sources, so I check each one.").experiment
    today = [log(org.ada, day(1, n)) for n in range(3)]
    assert [note(r) for r in today] == ["", "", "daily_cap"]
    share_experiment(org.ada, failed.id, "course", day(1, 5))
    db.session.commit()
    start = day(1).replace(hour=0, minute=0, second=0, microsecond=0)  # the organisation's day (UTC)
    paid_today = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.user_id == org.ada.user_id, LedgerEntry.source_type == "experiment",
        LedgerEntry.created_at >= start, LedgerEntry.created_at < start + timedelta(days=1)))
    assert paid_today == 20
    assert "Fail Forward" in badge_names(org.ada)


def test_an_entry_shared_when_logged_made_private_and_shared_again_keeps_its_sharing_points_in_a_replay(org):
    """Ada's failure is shared when logged (Fail Forward's 10 sharing points, paid that day). Two days later she
    fills that day's cap (20), makes the entry private and shares it again: nothing more is paid, and a replay finds
    nothing to change. It used to see the entry shared only from the second sharing, under that full day's cap, and
    took the 10 points back. (Found by a ledger review.)"""
    from plugin.replay.service import replay

    set_limits(org, daily_points_cap=20, repeat_free_count=100)
    failed = log(org.ada, NOW, outcome="failed", visibility="course",
                 learned="What I learned: it invents sources, so I check each one.").experiment
    assert balance(org.ada.course_id, org.ada.user_id, "sharing") == 10
    log(org.ada, day(2))
    log(org.ada, day(2, 1))
    share_experiment(org.ada, failed.id, "private", day(2, 2))
    share_experiment(org.ada, failed.id, "course", day(2, 3))
    db.session.commit()
    before = balance(org.ada.course_id, org.ada.user_id)
    report = replay(org.id, day(3))
    assert report.empty, report.points
    replay(org.id, day(3), apply=True)
    assert balance(org.ada.course_id, org.ada.user_id) == before
    assert balance(org.ada.course_id, org.ada.user_id, "sharing") == 10


def test_sharing_an_old_entry_pays_only_what_sharing_earns_not_a_threshold_its_window_never_held(org):
    """Day 0: a private entry with one tool. Day 9: two shared entries with two more tools. Day 10: the day-0 entry is
    shared. "Three tools in a week" was never true, yet sharing asked it again as of day 0 with day 9's entries in
    its count, and paid; a replay did the same. Now sharing asks only the rules that turn on sharing (Fail Forward's
    kind, counts of shared entries). (Found by a rules review.)"""
    from plugin.catalog.service import items
    from plugin.replay.service import replay
    from plugin.rules.definitions import create_rule

    tools = [str(t.id) for t in items(org.id, "tools")[:3]]
    cats = [c.id for c in items(org.id, "categories")[:3]]
    three = create_rule(org.id, {"name": "Three tools in a week", "condition": "distinct_tools",
                                 "params": {"count": 3, "window_days": 7}, "points": 15,
                                 "dimension": "experimenting"}, NOW)
    old = log(org.ada, NOW, ai_tool=tools[0], task_category=cats[0], visibility="private", outcome="failed",
              learned="What I learned: it invents sources, so I check each one.").experiment
    log(org.ada, day(9), ai_tool=tools[1], task_category=cats[1])
    log(org.ada, day(9, 60), ai_tool=tools[2], task_category=cats[2])
    share_experiment(org.ada, old.id, "course", day(10))
    db.session.commit()
    paid = db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.rule_id == three.id))
    assert paid == 0
    assert "Fail Forward" in badge_names(org.ada)  # what sharing earns is still paid
    assert replay(org.id, day(11)).empty


def test_a_failure_with_a_too_short_reflection_earns_no_trying_points(org):
    short = log(org.ada, outcome="failed", learned="Too short.")
    assert (paid(org, short), note(short)) == (0, "short_reflection")
    assert "reflection" in NOTES["short_reflection"]
    assert badge_names(org.ada) == ["First experiment"]  # trying is still the first step; no Fail Forward
    just_enough = log(org.ada, later(1), outcome="failed", learned="x" * 19 + "!")  # 20 characters
    assert paid(org, just_enough) == 10
    assert "Fail Forward" in badge_names(org.ada)
    assert balance(org.ada.course_id, org.ada.user_id) == 10 + 10


def test_an_admin_set_minimum_reflection_is_honoured(org):
    set_limits(org, min_reflection_chars=5)
    result = log(org.ada, outcome="failed", learned="Too short.")
    assert (paid(org, result), note(result)) == (10, "")
    set_limits(org, min_reflection_chars=200)
    longer = log(org.ada, later(1), outcome="failed", learned="It invented a figure; I now check every number.")
    assert (paid(org, longer), note(longer)) == (0, "short_reflection")


def test_an_admin_set_duplicate_threshold_is_honoured(org):
    set_limits(org, duplicate_threshold_percent=90)
    first = log(org.ada, title=TITLE, tried=NOTES_TEXT)
    reordered = log(org.ada, later(1), title=TITLE, tried=REORDERED)
    identical = log(org.ada, later(2), title=TITLE, tried=NOTES_TEXT)
    assert reordered.experiment.duplicate_of_id is None and paid(org, reordered) == 10
    assert identical.experiment.duplicate_of_id == first.experiment.id and paid(org, identical) == 0


def test_of_equally_similar_earlier_entries_the_one_logged_first_is_named(org):
    """Ties go to the earliest logged entry by its time, not by its id: here the later row was backdated."""
    later_row = log(org.ada, later(5), title=TITLE, tried=NOTES_TEXT)
    earlier_row = log(org.ada, later(1), title=TITLE, tried=NOTES_TEXT)
    assert earlier_row.experiment.id > later_row.experiment.id
    again = log(org.ada, later(10), title=TITLE, tried=NOTES_TEXT)
    assert again.experiment.duplicate_of_id == earlier_row.experiment.id and paid(org, again) == 0


def test_admin_set_diminishing_returns_are_honoured(org):
    set_limits(org, repeat_free_count=1, repeat_factor_percent=0)
    same = [log(org.ada, day(d), ai_tool=org.tools[0], task_category=org.cats[0]) for d in range(2)]
    assert [paid(org, r) for r in same] == [10, 0]
    assert note(same[1]) == "repeat"
    set_limits(org, repeat_factor_percent=70)
    assert paid(org, log(org.ada, day(2), ai_tool=org.tools[0], task_category=org.cats[0])) == 7


def test_an_admin_set_pair_cap_and_window_are_honoured(org):
    set_limits(org, help_pair_cap=1, help_pair_window_days=7)

    def helped(now):
        return record_help(org.bo, other_user_id=org.ada.user_id, direction=HELPED_ME, description="Prompt tips",
                           now=now).help

    first, second, week_later = helped(NOW), helped(later(1)), helped(day(8))
    assert [h.over_pair_cap for h in (first, second, week_later)] == [False, True, False]
    assert balance(org.ada.course_id, org.ada.user_id) == 20


def test_an_admin_set_kudos_budget_is_honoured(org):
    set_limits(org, kudos_monthly_budget=20)
    with pytest.raises(Conflict) as err:
        give_kudos(org.boss, receiver_id=org.ada.user_id, message="Great work", now=NOW, submission_key="kudos-001",
                   points=30)
    assert "20 points left" in err.value.message
    give_kudos(org.boss, receiver_id=org.ada.user_id, message="Great work", now=NOW, submission_key="kudos-002",
               points=20)
    assert balance(org.ada.course_id, org.ada.user_id) == 20


def test_the_daily_cap_resets_at_midnight_in_the_organisations_time_zone(org):
    from datetime import datetime, timezone

    from plugin.settings.models import OrganisationSettings

    set_limits(org, daily_points_cap=10, repeat_free_count=100)
    db.session.get(OrganisationSettings, org.admin.organisation_id).time_zone = "Europe/Istanbul"
    late_sunday = datetime(2025, 3, 9, 20, 30, tzinfo=timezone.utc)  # 23:30 in Istanbul
    after_midnight = datetime(2025, 3, 9, 21, 30, tzinfo=timezone.utc)  # 00:30 Monday there, Sunday in UTC
    first, capped = log(org.ada, late_sunday), log(org.ada, late_sunday + timedelta(minutes=5))
    next_day = log(org.ada, after_midnight)
    assert [paid(org, r) for r in (first, capped, next_day)] == [10, 0, 10]
    assert note(capped) == "daily_cap" and note(next_day) == ""
