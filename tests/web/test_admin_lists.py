"""Admins edit the AI tool and task category lists; learners pick from what is active."""
from tests.web.helpers import options, text


def test_admin_adds_renames_and_turns_off_a_tool(client, launch):
    admin = launch(role="admin", sub="boss")
    assert client.post("/app/admin/lists/tools", data={"lt": admin, "name": "Mistral Le Chat"}).status_code == 303
    learner = launch(sub="learner")
    tools = options(text(client.get("/app/experiments/new", query_string={"lt": learner})), "ai_tool")
    assert "Mistral Le Chat" in tools

    tool_id = tools["Mistral Le Chat"]
    client.post(f"/app/admin/lists/tools/{tool_id}", data={"lt": admin, "action": "rename", "name": "Le Chat"})
    client.post(f"/app/admin/lists/tools/{tools['Gemini']}", data={"lt": admin, "action": "disable"})
    tools = options(text(client.get("/app/experiments/new", query_string={"lt": learner})), "ai_tool")
    assert "Le Chat" in tools and "Mistral Le Chat" not in tools
    assert "Gemini" not in tools
    page = text(client.get("/app/admin/lists", query_string={"lt": admin}))
    assert "Gemini" in page and "(off)" in page


def test_duplicate_name_is_a_clear_conflict(client, launch):
    admin = launch(role="admin", sub="boss")
    tools = options(text(client.get("/app/experiments/new", query_string={"lt": admin})), "ai_tool")
    response = client.post(f"/app/admin/lists/tools/{tools['Claude']}",
                           data={"lt": admin, "action": "rename", "name": "chatgpt"})
    assert response.status_code == 409
    assert "already in the list" in text(response)


def test_category_from_disabled_list_is_refused_for_new_entries(client, launch):
    admin = launch(role="admin", sub="boss")
    learner = launch(sub="learner")
    from tests.web.helpers import experiment_form

    data = experiment_form(client, learner)
    client.post(f"/app/admin/lists/categories/{data['task_category']}", data={"lt": admin, "action": "disable"})
    response = client.post("/app/experiments", data=data)
    body = text(response)
    assert response.status_code == 422
    assert "Choose a task category" in body
    assert f'value="{data["title"]}"' in body  # what was typed is kept
