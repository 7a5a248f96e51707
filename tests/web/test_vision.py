"""The AI vision page: admins edit it, learners are sent to it from the dashboard until they acknowledge it,
experiments take pillars and confidence ratings, coaching notes stay with their author."""
import re

from tests.web.helpers import experiment_form, options, text, visible


def _save_vision(client, admin, statement="We try AI to give people **time back**.", guidance="Keep names out.",
                 pillars=("Customers first", "Time for people", "Safe by default"), approve=("ChatGPT",)):
    page = text(client.get("/app/vision/edit", query_string={"lt": admin}))
    tool_ids = dict(re.findall(r'id="ta-(\d+)"[^>]*> ([^<]+) is approved', page))
    data = {"lt": admin, "statement": statement, "guidance": guidance, "tool_ids": list(tool_ids)}
    for i, name in enumerate(pillars):
        data[f"pillar_name_{i}"] = name
    for tool_id, name in tool_ids.items():
        if name.strip() in approve:
            data[f"tool_approved_{tool_id}"] = "on"
            data[f"tool_note_{tool_id}"] = "Public or made-up data only"
    return client.post("/app/vision/edit", data=data)


def test_learner_is_sent_to_the_vision_until_they_acknowledge_it_and_again_when_it_changes(client, launch):
    admin = launch(role="admin", sub="boss")
    learner = launch(sub="learner")
    assert client.get("/app/", query_string={"lt": learner}).status_code == 200  # no vision yet: no detour
    assert _save_vision(client, admin).status_code == 303
    home = client.get("/app/", query_string={"lt": learner})
    assert home.status_code == 303 and "/app/vision/" in home.headers["Location"]
    # deep links are not detoured
    assert client.get("/app/experiments", query_string={"lt": learner}).status_code == 200
    page = client.get("/app/vision/", query_string={"lt": learner})
    body = text(page)
    assert "<strong>time back</strong>" in body and "Customers first" in body and "Public or made-up data only" in body
    version = re.search(r'name="version" value="(\d+)"', body).group(1)
    ack = client.post("/app/vision/acknowledge", data={"lt": learner, "version": version})
    assert ack.status_code == 303
    assert client.get("/app/", query_string={"lt": learner}).status_code == 200
    _save_vision(client, admin, guidance="New: check every figure.")
    assert client.get("/app/", query_string={"lt": learner}).status_code == 303
    stale = client.post("/app/vision/acknowledge", data={"lt": learner, "version": version})
    assert "changed=1" in stale.headers["Location"]


def test_vision_edit_is_for_admins_only_and_errors_are_described(client, launch):
    learner = launch(sub="learner")
    manager = launch(role="instructor", sub="teacher")
    assert client.get("/app/vision/edit", query_string={"lt": learner}).status_code == 403
    assert client.get("/app/vision/edit", query_string={"lt": manager}).status_code == 403
    assert client.post("/app/vision/edit", data={"lt": manager, "statement": "x" * 20}).status_code == 403
    admin = launch(role="admin", sub="boss")
    response = _save_vision(client, admin, pillars=("Only one",))
    assert response.status_code == 422
    body = text(response)
    assert 'aria-describedby="pillars-hint pillars-error"' in body and "between 3 and 6" in body.lower()


def test_script_in_the_vision_is_removed(client, launch):
    admin = launch(role="admin", sub="boss")
    _save_vision(client, admin, statement="Hello <script>alert(1)</script> [x](javascript:alert(2)) world")
    body = text(client.get("/app/vision/", query_string={"lt": admin}))
    assert "<script>alert(1)" not in body and "javascript:alert" not in body


def test_experiment_form_takes_pillars_and_confidence_and_coaches_privately(client, launch):
    admin = launch(role="admin", sub="boss")
    _save_vision(client, admin, approve=("ChatGPT",))
    learner = launch(sub="learner")
    page = text(client.get("/app/experiments/new", query_string={"lt": learner}))
    pillar_ids = dict((name.strip(), pid) for pid, name in re.findall(r'name="pillars" value="(\d+)"[^>]*> ([^<]+)<', page))
    assert set(pillar_ids) == {"Customers first", "Time for people", "Safe by default"}
    assert "How confident do you feel using AI for this task?" in page
    data = experiment_form(client, learner, ai_tool=options(page, "ai_tool")["Gemini"], confidence_before="2",
                           confidence_after="4")
    data["pillars"] = [pillar_ids["Customers first"], pillar_ids["Safe by default"]]
    created = client.post("/app/experiments", data=data)
    assert created.status_code == 303
    experiment_id = re.search(r"/experiments/(\d+)/logged", created.headers["Location"]).group(1)
    mine = visible(client.get(f"/app/experiments/{experiment_id}", query_string={"lt": learner}))
    assert "A private note for you" in mine and "Gemini" in mine and "ChatGPT" in mine
    assert "Pillars: Customers first, Safe by default" in mine
    colleague = launch(sub="colleague")
    theirs = visible(client.get(f"/app/experiments/{experiment_id}", query_string={"lt": colleague}))
    assert "A private note for you" not in theirs and "Customers first" in theirs
    boss_view = visible(client.get(f"/app/experiments/{experiment_id}", query_string={"lt": admin}))
    assert "A private note for you" not in boss_view


def test_bad_confidence_is_a_described_field_error(client, launch):
    learner = launch(sub="learner")
    response = client.post("/app/experiments", data=experiment_form(client, learner, confidence_before="9"))
    assert response.status_code == 422
    assert 'aria-describedby="confidence-hint-confidence_before confidence_before-error"' in text(response)


def test_the_form_sent_again_with_only_its_pillars_changed_keeps_the_pillars_chosen(client, launch):
    """Back to the form after saving, a pillar ticked, Save: the entry saved came back with its old pillars, as if
    nothing had been sent (the comparison that tells an edit from a repeat left the pillars out), and the pillar
    chosen was lost."""
    admin = launch(role="admin", sub="boss")
    _save_vision(client, admin)
    learner = launch(sub="learner")
    page = text(client.get("/app/experiments/new", query_string={"lt": learner}))
    pillar_ids = dict((name.strip(), pid) for pid, name in re.findall(r'name="pillars" value="(\d+)"[^>]*> ([^<]+)<', page))
    data = experiment_form(client, learner, outcome="worked", learned="")
    data["pillars"] = [pillar_ids["Customers first"]]
    first = client.post("/app/experiments", data=data).headers["Location"].split("?")[0]
    again = client.post("/app/experiments", data=data).headers["Location"].split("?")[0]
    assert again == first  # unchanged: the entry saved
    data["pillars"] = [pillar_ids["Customers first"], pillar_ids["Safe by default"]]
    edited = client.post("/app/experiments", data=data).headers["Location"].split("?")[0]
    assert edited != first, "the pillar ticked after going Back was dropped: the first entry came back"
    shown = visible(client.get(edited.replace("/logged", ""), query_string={"lt": learner}))
    assert "Pillars: Customers first, Safe by default" in shown
