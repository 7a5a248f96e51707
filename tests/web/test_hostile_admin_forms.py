"""The admin's and managers' forms under hostile input (found by a fuzzing review of every form they post; each test
failed before its fix): a double submit makes one thing, a name is the same name whatever its case or script, an
id of another organisation's object is refused, a refused form says what is wrong in the page's language and keeps
what was typed."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.support.platform import LTI, FakePlatform, token_from
from tests.web.helpers import log_experiment, text, visible


def _launch_in(client, platform, locale: str, role: str = "admin", sub: str = "boss") -> str:
    overrides = {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": locale}}
    response, _flow = platform.launch(client, role=role, sub=sub, overrides=overrides)
    return token_from(response)


def _scalar(app, query):
    from plugin.extensions import db

    with app.app_context():
        return db.session.scalar(query)


# --- a new rule sent twice (a double click, Back and send again) is two rules that pay twice ---------------------

def _new_rule(**fields) -> dict:
    return {"condition": "experiment_count", "name": "Quiz drafted", "param_count": "1", "points": "7",
            "dimension": "experimenting", "active": "on", "action": "save", **fields}


def test_a_new_rule_sent_twice_is_one_rule_and_pays_once(app, client, launch):
    from plugin.ledger.models import LedgerEntry
    from plugin.rules.models import Rule

    learner = launch(sub="ada")
    assert log_experiment(client, learner).status_code == 303
    paid_before = _scalar(app, select(func.coalesce(func.sum(LedgerEntry.amount), 0)))
    admin = launch(role="admin", sub="boss")
    first = client.post("/app/admin/rules/save", data={"lt": admin, **_new_rule()})
    again = client.post("/app/admin/rules/save", data={"lt": admin, **_new_rule()})
    assert first.status_code == 303
    assert again.status_code in (409, 422) and "Quiz drafted" in visible(again)
    assert _scalar(app, select(func.count()).select_from(Rule).where(Rule.name == "Quiz drafted")) == 1
    assert _scalar(app, select(func.coalesce(func.sum(LedgerEntry.amount), 0))) - paid_before == 7


@pytest.mark.parametrize("taken, typed", [("Quiz drafted", "QUIZ DRAFTED "), ("İlk deneme", "ilk deneme")])
def test_a_rule_name_taken_whatever_its_case_is_refused_on_create_and_rename(app, client, launch, taken, typed):
    admin = launch(role="admin", sub="boss")
    assert client.post("/app/admin/rules/save", data={"lt": admin, **_new_rule(name=taken)}).status_code == 303
    refused = client.post("/app/admin/rules/save", data={"lt": admin, **_new_rule(name=typed, points="9")})
    assert refused.status_code in (409, 422)
    assert f'value="{typed}"' in text(refused) and 'value="9"' in text(refused)  # the form as it was sent
    other = client.post("/app/admin/rules/save", data={"lt": admin, **_new_rule(name="Another one")})
    rule_id = re.search(r"created=(\d+)", other.headers["Location"]).group(1)
    renamed = client.post("/app/admin/rules/save", data={"lt": admin, **_new_rule(name=typed, rule_id=rule_id)})
    assert renamed.status_code in (409, 422)


@pytest.mark.parametrize("param", ["param_category_id", "param_tool_id"])
def test_a_rule_cannot_name_another_organisations_category_or_tool(app, client, launch, cli, param):
    from plugin.catalog.models import AiTool, TaskCategory
    from plugin.rules.models import Rule

    launch(role="admin", sub="boss")  # our organisation's lists exist
    model = TaskCategory if param == "param_category_id" else AiTool
    ours = _scalar(app, select(func.max(model.id)))
    other = FakePlatform(issuer="https://canvas.example.com", client_id="10000000000042", deployment_id="12:abcdef")
    assert cli(*other.register_args(org="Other Org")).exit_code == 0
    try:
        stranger = token_from(other.launch(client, sub="their-admin", role="admin")[0])
        response = client.post("/app/admin/rules/save", data={"lt": stranger, **_new_rule(**{param: str(ours)})})
        missing = client.post("/app/admin/rules/save", data={"lt": stranger, **_new_rule(name="Two", **{
            param: "2147483647"})})
    finally:
        other.close()
    assert response.status_code == 422 and missing.status_code == 422
    assert "Choose one from the list." in visible(response)
    assert _scalar(app, select(func.count()).select_from(Rule).where(Rule.name.in_(["Quiz drafted", "Two"]))) == 0


# --- badge names: "already exists" decided by an ASCII slug ------------------------------------------------------

def _badge(name: str, **fields) -> dict:
    return {"name": name, "description": "", "criteria": "", "colour": "#123456", "active": "on", **fields}


@pytest.mark.parametrize("first, second", [("Πρωτοπόρος", "Εξερευνητής"), ("先锋", "探索者"), ("Şef", "Ef")])
def test_two_different_badge_names_are_two_badges(app, client, launch, first, second):
    from plugin.badges.models import BadgeClass

    admin = launch(role="admin", sub="boss")
    assert client.post("/app/admin/badges", data={"lt": admin, **_badge(first)}).status_code == 303
    response = client.post("/app/admin/badges", data={"lt": admin, **_badge(second)})
    assert response.status_code == 303, visible(response)[:300]
    assert _scalar(app, select(func.count()).select_from(BadgeClass).where(BadgeClass.name == second)) == 1


@pytest.mark.parametrize("first, second", [("İleri", "ileri"), ("Öncü", "ÖNCÜ"), ("ILGI", "ılgı")])
def test_the_same_badge_name_in_other_capitals_is_refused_on_create_and_rename(app, client, launch, first, second):
    from plugin.badges.models import BadgeClass

    admin = launch(role="admin", sub="boss")
    assert client.post("/app/admin/badges", data={"lt": admin, **_badge(first)}).status_code == 303
    assert client.post("/app/admin/badges", data={"lt": admin, **_badge(second)}).status_code == 409
    assert client.post("/app/admin/badges", data={"lt": admin, **_badge("Something else")}).status_code == 303
    other = _scalar(app, select(BadgeClass.id).where(BadgeClass.name == "Something else"))
    renamed = client.post("/app/admin/badges", data={"lt": admin, **_badge(second, badge_id=str(other))})
    assert renamed.status_code == 409 and f'value="{second}"' in text(renamed)
    assert _scalar(app, select(BadgeClass.name).where(BadgeClass.id == other)) == "Something else"


# --- dimensions: "İletişim" beside "iletişim" --------------------------------------------------------------------

@pytest.mark.parametrize("first, second", [("İletişim", "iletişim"), ("ILGI", "ılgı")])
def test_the_same_dimension_name_in_turkish_capitals_is_refused(app, client, launch, first, second):
    from plugin.levels.models import Dimension

    admin = launch(role="admin", sub="boss")
    assert client.post("/app/admin/scoring/dimensions", data={"lt": admin, "name": first}).status_code == 303
    response = client.post("/app/admin/scoring/dimensions", data={"lt": admin, "name": second})
    assert response.status_code == 409
    assert _scalar(app, select(func.count()).select_from(Dimension).where(Dimension.name.in_([first, second]))) == 1


# --- refused forms in English on a Turkish page, or a "0" for a message ------------------------------------------

def _messages(page: str) -> str:
    """The words of the error summary and of every field message."""
    summary = re.search(r'class="card error-summary".*?</ul>', page, re.S)
    fields = re.findall(r'<p class="field-error"[^>]*>(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", " ", (summary.group(0) if summary else "") + " | " + " | ".join(fields))


@pytest.mark.parametrize("path, data, english", [
    ("/app/admin/xapi/settings", {"enabled": "on", "endpoint": "https://lrs.example.org/" + "x" * 1000, "key": "k",
                                  "secret": "s"}, "Longer than maximum length"),
    ("/app/admin/webhooks", {"url": "", "description": "d", "events": "badge.earned"}, "Length must be between"),
    ("/app/manage/boards", {"mode": "on", "relative": "maybe"}, "Not a valid boolean."),
    ("/app/vision/edit", {"statement": "We try things out together.", "pillar_name_0": "P" * 101,
                          "pillar_name_1": "Q", "pillar_name_2": "R"}, "Length must be between"),
])
def test_a_refused_admin_form_speaks_turkish_on_a_turkish_page(client, platform, path, data, english):
    role = "instructor" if path.startswith("/app/manage") else "admin"
    token = _launch_in(client, platform, "tr-TR", role=role)
    response = client.post(path, data={"lt": token, **data})
    assert response.status_code == 422
    said = _messages(text(response))
    assert english not in said, said


def test_an_unknown_webhook_event_is_said_in_words_not_as_a_row_number(client, launch):
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/webhooks", data={"lt": admin, "url": "https://hooks.example.org/in",
                                                        "description": "", "events": "badge.eaten"})
    assert response.status_code == 422
    fields = re.findall(r'<p class="field-error" id="events-error">(.*?)</p>', text(response), re.S)
    assert fields and fields[0].strip() not in ("0", ""), fields


# --- the lists: a refused name was an error page, the form and what was typed gone --------------------------------

@pytest.mark.parametrize("typed, status", [("N" * 101, 422), ("   ", 422), ("CHATGPT", 409)])
def test_a_refused_list_name_is_shown_again_in_its_box_with_the_message_by_it(app, client, launch, typed, status):
    from plugin.catalog.models import AiTool

    admin = launch(role="admin", sub="boss")
    added = client.post("/app/admin/lists/tools", data={"lt": admin, "name": "Perplexity"})
    assert added.status_code == 303
    tool = _scalar(app, select(AiTool.id).where(AiTool.name == "Perplexity"))
    for path, box in ((f"/app/admin/lists/tools/{tool}", f"tools-{tool}"), ("/app/admin/lists/tools", "new-tools")):
        if typed == "CHATGPT" and box == "new-tools":
            continue  # adding a name the list has turns the item on: nothing to refuse
        response = client.post(path, data={"lt": admin, "action": "rename", "name": typed})
        page = text(response)
        assert response.status_code == status
        field = re.search(rf'<input id="{box}"[^>]*>', page)
        assert field, "the form is gone: an error page instead of the list"
        assert f'value="{typed}"' in field.group(0) and 'aria-invalid="true"' in field.group(0)
        assert re.search(rf'<p class="field-error" id="{box}-error">\s*\S', page)
    assert _scalar(app, select(AiTool.name).where(AiTool.id == tool)) == "Perplexity"


def test_turning_off_the_last_tool_is_said_by_it_on_the_list(app, client, launch):
    from plugin.catalog.models import AiTool

    admin = launch(role="admin", sub="boss")
    from plugin.extensions import db

    with app.app_context():
        ids = list(db.session.scalars(select(AiTool.id).order_by(AiTool.id)))
    for tool in ids[:-1]:
        assert client.post(f"/app/admin/lists/tools/{tool}", data={"lt": admin, "action": "disable"}).status_code == 303
    response = client.post(f"/app/admin/lists/tools/{ids[-1]}", data={"lt": admin, "action": "disable"})
    assert response.status_code == 409
    assert f'id="tools-{ids[-1]}-error"' in text(response) and 'id="new-tools"' in text(response)


# --- the insights minimum group size: a refused number was an error page, the form gone --------------------------

@pytest.mark.parametrize("typed", ["1", "101", "2147483648", "NaN", ""])
def test_a_refused_minimum_group_size_is_shown_again_in_its_box(client, platform, typed):
    admin = _launch_in(client, platform, "tr-TR")
    response = client.post("/app/insights/settings", data={"lt": admin, "min_group_size": typed})
    page = text(response)
    assert response.status_code == 422
    field = re.search(r'<input id="f-min"[^>]*>', page)
    assert field, "the form is gone: an error page instead of the insights page"
    assert f'value="{typed}"' in field.group(0) and 'aria-invalid="true"' in field.group(0)
    assert "En küçük grup boyutu 2 ile 100 arasında bir tam sayıdır." in visible(response)


def test_number_boxes_of_a_rule_holding_only_spaces_count_as_empty(app, client, launch):
    """An empty box means 0 (no cooldown, no cap); one holding only spaces (a paste, a stray key) is read the same,
    not refused as "not a whole number". Points of spaces are 0, so a rule without a badge is told it gives nothing."""
    from plugin.rules.models import Rule

    admin = launch(role="admin", sub="boss")
    saved = client.post("/app/admin/rules/save", data={"lt": admin, **_new_rule(
        cooldown_days="   ", cap_count=" ", cap_window_days="\t")})
    assert saved.status_code == 303
    with app.app_context():
        from plugin.extensions import db

        saved_rule = db.session.execute(select(Rule.points, Rule.cooldown_days, Rule.cap_count).where(
            Rule.name == "Quiz drafted")).one()
    assert tuple(saved_rule) == (7, 0, 0)
    nothing = client.post("/app/admin/rules/save", data={"lt": admin, **_new_rule(name="Nothing", points="  ")})
    assert nothing.status_code == 422
    assert "A rule must give points, a badge, or both." in visible(nothing)
