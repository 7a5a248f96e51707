"""log_experiment: authorisation, invariants, and what an experiment earns through the default rules."""
import pytest
from sqlalchemy import func, select

from plugin.badges.service import badges_of
from plugin.catalog.service import items, set_active
from plugin.core.actor import Role
from plugin.errors import DomainError, Forbidden, InvalidInput
from plugin.experiments import queries
from plugin.experiments.models import Experiment
from plugin.experiments.service import log_experiment
from plugin.extensions import db
from plugin.ledger.models import LedgerEntry
from plugin.ledger.service import balance, balances, entries
from tests.services.factories import NOW, experiment_data, later, log, make_actor, make_platform


@pytest.fixture
def platform(appctx):
    return make_platform()


@pytest.fixture
def learner(platform):
    return make_actor(platform, "learner-1")


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def badge_names(actor) -> list[str]:
    return [badge.name for _award, badge in badges_of(actor.course_id, actor.user_id)]


def test_first_experiment_earns_ten_points_and_the_first_experiment_badge(learner):
    result = log(learner)
    db.session.commit()
    assert result.created is True
    assert balances(learner.course_id, learner.user_id) == {"experimenting": 10, "total": 10}
    assert badge_names(learner) == ["First experiment"]
    assert sorted((r.rule_name, r.points) for r in result.recognitions) == [
        ("First Try", 0), ("Logged an experiment", 10)]
    assert [r.badge_id is not None for r in result.recognitions if r.rule_name == "First Try"] == [True]


def test_second_experiment_adds_points_but_not_another_badge(learner):
    log(learner)
    second = log(learner, later(10), title="Summarised a policy")
    db.session.commit()
    assert balance(learner.course_id, learner.user_id) == 20
    assert badge_names(learner) == ["First experiment"]
    assert [(r.rule_name, r.points) for r in second.recognitions] == [("Logged an experiment", 10)]


def test_a_failed_experiment_with_a_reflection_earns_the_same_ten_points(learner):
    """Trying earns the same whatever the outcome; sharing a failure also earns Fail Forward, once."""
    result = log(learner, outcome="failed", learned="It invented a figure; I now check every number.")
    assert result.experiment.outcome == "failed"
    assert balances(learner.course_id, learner.user_id) == {"experimenting": 10, "sharing": 10, "total": 20}
    assert sorted(badge_names(learner)) == ["Fail Forward", "First experiment"]
    worked = log(learner, later(5), outcome="worked")
    assert sum(r.points for r in worked.recognitions if r.dimension == "experimenting") == 10


def test_a_private_failure_earns_the_trying_points_but_not_fail_forward(learner):
    log(learner, outcome="failed", learned="It invented a figure; I now check every number.", visibility="private")
    assert balances(learner.course_id, learner.user_id) == {"experimenting": 10, "total": 10}


def test_a_failure_without_reflection_earns_no_points(learner):
    """The form refuses this; a caller that skips the schema still cannot earn points for it."""
    data = experiment_data(learner.organisation_id, outcome="worked") | {"outcome": "failed", "learned": "   "}
    log_experiment(learner, data, NOW)
    assert balance(learner.course_id, learner.user_id) == 0
    assert count(LedgerEntry) == 0


def test_the_same_submission_twice_is_recorded_once(learner):
    data = experiment_data(learner.organisation_id, submission_key="double-click-0001")
    first = log_experiment(learner, data, NOW)
    db.session.commit()
    again = log_experiment(learner, data | {"title": "A retried copy"}, later(1))
    db.session.commit()
    assert (first.created, again.created) == (True, False)
    assert again.experiment.id == first.experiment.id
    assert again.experiment.title == "Drafted an outline with AI"
    assert again.recognitions == []
    assert count(Experiment) == 1
    assert count(LedgerEntry) == 1
    assert balance(learner.course_id, learner.user_id) == 10


@pytest.mark.parametrize("sensitive", ["yes", "unsure"])
@pytest.mark.parametrize("asked", ["course", "team"])
def test_possibly_sensitive_entries_are_kept_private(learner, sensitive, asked):
    result = log(learner, sensitive_data=sensitive, visibility=asked)
    db.session.commit()
    db.session.expire_all()
    assert result.forced_private is True
    assert db.session.get(Experiment, result.experiment.id).visibility == "private"


def test_a_clear_no_keeps_the_chosen_visibility(learner):
    result = log(learner, sensitive_data="no", visibility="team")
    assert result.forced_private is False
    assert result.experiment.visibility == "team"


def test_an_observer_cannot_log_experiments(platform):
    observer = make_actor(platform, "parent-1", Role.OBSERVER)
    with pytest.raises(Forbidden):
        log(observer)
    assert count(Experiment) == 0
    assert count(LedgerEntry) == 0


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ADMIN])
def test_staff_experiments_are_stored_but_earn_nothing(platform, role):
    boss = make_actor(platform, "boss-1", role)
    result = log(boss)
    db.session.commit()
    assert result.created is True
    assert result.recognitions == []
    assert count(Experiment, Experiment.user_id == boss.user_id) == 1
    assert balances(boss.course_id, boss.user_id) == {}
    assert entries(boss.course_id, boss.user_id) == []
    assert badge_names(boss) == []


def test_a_category_of_another_organisation_is_refused(learner):
    other = make_platform("https://other-lms.example.com", "client-9", organisation="Org B")
    foreign = items(other.organisation_id, "categories")[0]
    with pytest.raises(InvalidInput) as err:
        log(learner, task_category=foreign.id)
    assert "task_category" in err.value.errors
    assert count(Experiment) == 0


def test_a_tool_of_another_organisation_is_refused(learner):
    other = make_platform("https://other-lms.example.com", "client-9", organisation="Org B")
    foreign = items(other.organisation_id, "tools")[0]
    with pytest.raises(InvalidInput) as err:
        log(learner, ai_tool=str(foreign.id))
    assert "ai_tool" in err.value.errors
    assert count(Experiment) == 0


@pytest.mark.parametrize("field, kind", [("ai_tool", "tools"), ("task_category", "categories")])
def test_an_unknown_id_is_refused(learner, field, kind):
    missing = max(i.id for i in items(learner.organisation_id, kind)) + 1000
    with pytest.raises(InvalidInput):
        log(learner, **{field: str(missing) if field == "ai_tool" else missing})
    assert count(Experiment) == 0


def test_a_tool_the_admin_retired_is_refused(platform, learner):
    admin = make_actor(platform, "admin-1", Role.ADMIN)
    retired = items(learner.organisation_id, "tools")[0]
    set_active(admin, "tools", retired.id, False)
    with pytest.raises(InvalidInput):
        log(learner, ai_tool=str(retired.id))


def test_an_other_tool_is_stored_with_its_name(learner):
    result = log(learner, ai_tool="other", ai_tool_other="  Our internal chatbot ")
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Experiment, result.experiment.id)
    assert stored.ai_tool_id is None
    assert stored.ai_tool_other == "Our internal chatbot"
    assert queries.get_visible(learner, stored.id)["tool"] == "Our internal chatbot"
    assert balance(learner.course_id, learner.user_id) == 10


def test_the_logged_experiment_is_persisted_with_its_facts(learner):
    tool = items(learner.organisation_id, "tools")[2]
    category = items(learner.organisation_id, "categories")[1]
    result = log(learner, later(30), ai_tool=str(tool.id), task_category=category.id, outcome="partly",
                 learned=" Check the numbers. ", minutes_saved=45, title="  Meeting notes to actions ")
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Experiment, result.experiment.id)
    assert (stored.course_id, stored.user_id, stored.organisation_id) == (
        learner.course_id, learner.user_id, learner.organisation_id)
    assert (stored.title, stored.learned, stored.minutes_saved) == ("Meeting notes to actions", "Check the numbers.", 45)
    assert (stored.ai_tool_id, stored.task_category_id, stored.outcome) == (tool.id, category.id, "partly")
    assert stored.created_at == later(30)
    row = queries.get_visible(learner, stored.id)
    assert (row["tool"], row["category"]) == (tool.name, category.name)


def test_points_are_counted_per_course(platform, learner):
    same_person_elsewhere = make_actor(platform, "learner-1", context_id="course-2")
    log(learner)
    log(learner)
    log(same_person_elsewhere)
    assert balance(learner.course_id, learner.user_id) == 20
    assert balance(same_person_elsewhere.course_id, learner.user_id) == 10
    assert badge_names(same_person_elsewhere) == ["First experiment"]


def test_a_key_reused_in_another_course_never_returns_the_other_courses_experiment(platform, learner):
    same_person_elsewhere = make_actor(platform, "learner-1", context_id="course-2")
    log(learner, submission_key="client-key-0001")
    try:
        result = log(same_person_elsewhere, submission_key="client-key-0001")
    except DomainError:  # refusing the reused key would be honest too
        return
    assert result.experiment.course_id == same_person_elsewhere.course_id


@pytest.mark.parametrize("search, found", [
    ("şablon", "Şablon"), ("ÖĞRETMEN", "öğretmen"), ("çizelge", "ÇİZELGE"), ("100%", None), ("a_b", None)])
def test_the_library_search_folds_every_letter_and_takes_wildcards_literally(learner, search, found):
    """A search matches whatever the case of Turkish letters (SQLite's lower() folds ASCII only, as PostgreSQL's
    does under the C locale), and '%' or '_' are the characters themselves, not 'anything'."""
    titles = {"Şablon": "Şablon ile rapor yazdım", "öğretmen": "Bir öğretmen notu denedim",
              "ÇİZELGE": "ÇİZELGE hazırladım", None: "Nothing 1000 here, axb"}
    ids = {key: log(learner, title=title).experiment.id for key, title in titles.items()}
    assert [row["experiment"].id for row in queries.feed(learner, q=search)] == ([ids[found]] if found else [])


def test_the_form_sent_again_unchanged_is_the_entry_saved_though_its_author_shared_it_since(learner):
    """The web form's key comes back with the form on Back (static/js/tinker.js): sent again unchanged it is the entry
    saved. Shared meanwhile (or its wording corrected: the JSON API), the entry no longer matched what the form sent,
    so the same content was logged a second time, a private copy beside the shared one."""
    from plugin.experiments.service import share_experiment

    data = experiment_data(learner.organisation_id, submission_key="back-then-save-01", visibility="private")
    first = log_experiment(learner, data, NOW, edited_is_new=True)
    db.session.commit()
    share_experiment(learner, first.experiment.id, "course", later(1))
    db.session.commit()
    again = log_experiment(learner, data, later(2), edited_is_new=True)
    db.session.commit()
    assert (again.created, again.experiment.id) == (False, first.experiment.id)
    assert count(Experiment) == 1
