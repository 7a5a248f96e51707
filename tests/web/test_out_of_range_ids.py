"""Ids beyond any row (past the database's INTEGER, or written in digits int() takes but no form sends) in the
pages' addresses, forms and query strings: an address is a 404 page, a form is shown again with a message
(422), a feed filter filters nothing; never a server error. Every route takes its ids through the bounded
<id:...> converter."""
import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from plugin.core.ids import MAX_ID
from tests.web.helpers import text, visible

HUGE = "99999999999999999999"
JUST_PAST = str(2**31)  # one more than PostgreSQL's INTEGER holds
OUT_OF_RANGE = [HUGE, JUST_PAST]
NOT_AN_ID = [HUGE, JUST_PAST, "\u00b2", "\u0663", "-1", "0"]  # "²" is a digit to isdigit(), "٣" is 3 to int()


def _count(app, model) -> int:
    from plugin.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_every_route_takes_its_numbers_in_range(app):
    unbounded = [f"{rule.rule} <{name}>" for rule in app.url_map.iter_rules()
                 for name, converter in rule._converters.items()
                 if isinstance(converter, IntegerConverter) and (converter.max is None or converter.max > MAX_ID)]
    assert unbounded == [], "use <id:...> (plugin.core.ids.IdConverter), not <int:...>"


@pytest.mark.parametrize("number", OUT_OF_RANGE + ["0"])
@pytest.mark.parametrize("role, path", [
    ("learner", "/app/challenges/{n}"),
    ("learner", "/app/experiments/{n}"),
    ("learner", "/app/experiments/{n}/logged"),
    ("learner", "/app/teams/{n}"),
    ("instructor", "/app/teams/{n}/edit"),
    ("instructor", "/app/challenges/{n}/edit"),
    ("admin", "/app/admin/rules/{n}"),
    ("admin", "/app/admin/privacy/erase/{n}"),
])
def test_an_address_naming_no_row_is_a_404_page(client, launch, role, path, number):
    token = launch(role=role, sub=f"{role}-1")
    response = client.get(path.format(n=number), query_string={"lt": token})
    assert response.status_code == 404
    assert "Not found" in visible(response)


@pytest.mark.parametrize("path", ["/app/help/{n}/confirm", "/app/teams/{n}/delete", "/app/manage/kudos/{n}/revoke"])
def test_a_form_posted_to_an_address_naming_no_row_is_a_404(client, launch, path):
    token = launch(role="instructor", sub="teacher")
    assert client.post(path.format(n=HUGE), data={"lt": token}).status_code == 404


@pytest.mark.parametrize("path", ["/ob/v2/badges/{n}", "/ob/v2/issuers/{n}", "/badges/{n}/image"])
def test_public_badge_documents_naming_no_row_are_a_404(client, path):
    assert client.get(path.format(n=HUGE)).status_code == 404


@pytest.mark.parametrize("experiment", NOT_AN_ID)
def test_the_help_form_refuses_an_experiment_that_is_no_id_and_keeps_the_input(app, client, launch, experiment):
    from plugin.peer_help.models import PeerHelp
    from plugin.tenancy.models import User

    launch(role="learner", sub="l2")
    token = launch(role="learner")
    from plugin.extensions import db

    with app.app_context():
        colleague = db.session.scalar(select(User.id).where(User.sub == "l2"))
    response = client.post("/app/help", data={"lt": token, "other": str(colleague), "direction": "helped_me",
                                              "description": "Showed me prompt chaining", "experiment": experiment})
    body = text(response)
    assert response.status_code == 422
    assert "Choose one from the list." in body and "Showed me prompt chaining" in body
    assert 'id="f-experiment" name="experiment" aria-describedby="experiment-error" aria-invalid="true"' in body
    assert _count(app, PeerHelp) == 0


def test_the_help_form_refuses_a_colleague_that_is_no_id(app, client, launch):
    token = launch(role="learner")
    response = client.post("/app/help", data={"lt": token, "other": HUGE, "direction": "helped_me",
                                              "description": "Showed me prompt chaining"})
    assert response.status_code == 422 and "Choose one from the list." in visible(response)


@pytest.mark.parametrize("field, value, message", [
    ("receiver", HUGE, "Choose one from the list."),
    ("value_tag", JUST_PAST, "Choose one from the list."),
    ("points", HUGE, "A whole number from 0 to 1000."),
])
def test_the_kudos_form_refuses_numbers_out_of_range(app, client, launch, field, value, message):
    from plugin.recognition.models import Kudos
    from plugin.tenancy.models import User

    launch(role="learner", sub="l1")
    token = launch(role="instructor", sub="teacher")
    from plugin.extensions import db

    with app.app_context():
        learner = db.session.scalar(select(User.id).where(User.sub == "l1"))
    data = {"lt": token, "receiver": str(learner), "message": "Well done on the quiz", "points": "0",
            "submission_key": "abcdefgh12345678", field: value}
    response = client.post("/app/manage/kudos", data=data)
    assert response.status_code == 422 and message in visible(response)
    assert _count(app, Kudos) == 0


@pytest.mark.parametrize("field", ["receiver", "badge"])
def test_the_badge_award_form_refuses_an_id_out_of_range(client, launch, field):
    token = launch(role="instructor", sub="teacher")
    response = client.post("/app/manage/badges", data={"lt": token, "receiver": "1", "badge": "1",
                                                       "comment": "For the workshop", field: HUGE})
    assert response.status_code == 422 and "Choose one from the list." in visible(response)


@pytest.mark.parametrize("threshold", ["\u00b2", "99999999999", "-5", "1e3"])
def test_level_thresholds_must_be_whole_numbers_in_range(client, launch, threshold):
    token = launch(role="admin", sub="boss")
    before = text(client.get("/app/admin/scoring", query_string={"lt": token}))
    response = client.post("/app/admin/scoring/levels", data={"lt": token, "level_name": ["Start", "Next"],
                                                              "level_threshold": ["0", threshold]})
    assert response.status_code == 422
    assert "A whole number from 0 to 2147483647." in visible(response)
    assert 'name="level_name" value="Next"' not in before
    assert 'name="level_name" value="Next"' not in text(client.get("/app/admin/scoring", query_string={"lt": token}))


def test_level_thresholds_in_range_are_saved(client, launch):
    token = launch(role="admin", sub="boss")
    saved = client.post("/app/admin/scoring/levels", data={"lt": token, "level_name": ["Start", "Next", ""],
                                                           "level_threshold": ["0", "2147483647", ""]})
    assert saved.status_code == 303
    page = text(client.get("/app/admin/scoring", query_string={"lt": token}))
    assert 'value="Next"' in page and 'value="2147483647"' in page


@pytest.mark.parametrize("path, data", [
    ("/app/admin/badges", {"badge_id": HUGE, "name": "Big"}),
    ("/app/admin/badges", {"name": "Big", "pillar": ["1", JUST_PAST]}),
    ("/app/admin/rules/save", {"rule_id": HUGE, "condition": "experiment_count", "name": "Big", "param_count": "1",
                               "points": "5", "dimension": "experimenting", "action": "save"}),
    ("/app/admin/rules/save", {"condition": "experiment_count", "name": "Big", "param_count": "1",
                               "points": "5", "badge_id": HUGE, "dimension": "experimenting", "action": "save"}),
    ("/app/admin/webhooks/resend", {"delivery": HUGE}),
])
def test_admin_forms_refuse_ids_out_of_range(client, launch, path, data):
    token = launch(role="admin", sub="boss")
    response = client.post(path, data={"lt": token, **data})
    assert response.status_code == 422, text(response)[:500]
    assert "Choose one from the list." in visible(response) or "Choose one of this organisation's badges." in visible(
        response)


@pytest.mark.parametrize("query", ["before", "category", "tool"])
@pytest.mark.parametrize("number", NOT_AN_ID)
def test_a_feed_filter_that_is_no_id_filters_nothing(client, launch, query, number):
    from tests.web.helpers import log_experiment

    token = launch(role="learner")
    log_experiment(client, token, title="Visible in the feed", visibility="course")
    response = client.get("/app/experiments", query_string={"lt": token, query: number})
    assert response.status_code == 200 and "Visible in the feed" in text(response)


@pytest.mark.parametrize("query", ["team", "course"])
def test_an_insights_filter_out_of_range_is_refused(client, launch, query):
    token = launch(role="admin", sub="boss")
    response = client.get("/app/insights/", query_string={"lt": token, query: HUGE})
    assert response.status_code == 422


def test_adding_a_team_member_out_of_range_is_a_field_message(client, launch):
    token = launch(role="instructor", sub="teacher")
    made = client.post("/app/teams/manage", data={"lt": token, "name": "Blue"})
    assert made.status_code == 303, text(made)[:500]
    team_path = made.headers["Location"].split("?")[0].removesuffix("/edit")
    response = client.post(f"{team_path}/members", data={"lt": token, "user_id": HUGE})
    assert response.status_code == 422
