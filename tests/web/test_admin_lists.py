"""Admins edit the AI tool and task category lists; learners pick from what is active."""
import re

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


def test_admin_uploads_a_badge_image_and_anyone_can_fetch_it_safely(client, launch):
    import io
    import re

    admin = launch(role="admin", sub="boss")
    page = text(client.get("/app/admin/badges", query_string={"lt": admin}))
    badge_id = re.search(r'name="badge_id" value="(\d+)"', page).group(1)
    generated = client.get(f"/badges/{badge_id}/image")
    assert generated.status_code == 200 and generated.mimetype == "image/svg+xml"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="3" fill="blue"/></svg>'
    response = client.post("/app/admin/badges", content_type="multipart/form-data", data={
        "lt": admin, "badge_id": badge_id, "name": "Image explorer", "colour": "#1971c2", "active": "on",
        "image": (io.BytesIO(svg), "explorer.svg")})
    assert response.status_code == 303
    served = client.get(f"/badges/{badge_id}/image")
    assert b'fill="blue"' in served.data and b"onload" not in served.data
    assert "sandbox" in served.headers["Content-Security-Policy"]
    refused = client.post("/app/admin/badges", content_type="multipart/form-data", data={
        "lt": admin, "badge_id": badge_id, "name": "Image explorer", "colour": "#1971c2", "active": "on",
        "image": (io.BytesIO(b"%PDF-1.4 not an image"), "x.pdf")})
    assert refused.status_code == 422 and "Use a PNG, JPEG, WebP or SVG image." in text(refused)


def test_a_name_differing_only_in_turkish_or_accented_capitals_is_the_same_name(client, launch):
    """"öneri yazımı" beside "Öneri Yazımı" is the same category on both databases (SQLite's lower() folds ASCII
    only): adding it again turns the existing one back on, renaming another to it is refused."""
    admin = launch(role="admin", sub="boss")
    assert client.post("/app/admin/lists/categories", data={"lt": admin, "name": "Öneri Yazımı"}).status_code == 303
    assert client.post("/app/admin/lists/categories", data={"lt": admin, "name": "ÖNERİ YAZIMI"}).status_code == 303
    learner = launch(sub="learner")
    categories = options(text(client.get("/app/experiments/new", query_string={"lt": learner})), "task_category")
    assert [name for name in categories if name.casefold().startswith("öneri")] == ["Öneri Yazımı"]
    other = next(item_id for name, item_id in categories.items() if name != "Öneri Yazımı")
    response = client.post(f"/app/admin/lists/categories/{other}",
                           data={"lt": admin, "action": "rename", "name": "öneri yazımı"})
    assert response.status_code == 409 and "already in the list" in text(response)


def test_adding_a_turkish_name_again_turns_the_item_back_on(client, launch):
    """"Çeviri" added, turned off and added again (or typed "ÇEVİRİ"): the one item comes back, no error page."""
    admin = launch(role="admin", sub="boss")
    assert client.post("/app/admin/lists/tools", data={"lt": admin, "name": "Çeviri aracı"}).status_code == 303
    tools = options(text(client.get("/app/experiments/new", query_string={"lt": admin})), "ai_tool")
    client.post(f"/app/admin/lists/tools/{tools['Çeviri aracı']}", data={"lt": admin, "action": "disable"})
    again = client.post("/app/admin/lists/tools", data={"lt": admin, "name": "Çeviri aracı"})
    assert again.status_code == 303
    shouted = client.post("/app/admin/lists/tools", data={"lt": admin, "name": "ÇEVİRİ ARACI"})
    assert shouted.status_code == 303
    tools = options(text(client.get("/app/experiments/new", query_string={"lt": admin})), "ai_tool")
    assert [name for name in tools if name.casefold().replace("\u0307", "") == "çeviri aracı"] == ["Çeviri aracı"]


def test_renaming_to_a_turkish_name_in_other_case_is_a_clear_conflict(client, launch):
    admin = launch(role="admin", sub="boss")
    client.post("/app/admin/lists/tools", data={"lt": admin, "name": "Özetleyici"})
    tools = options(text(client.get("/app/experiments/new", query_string={"lt": admin})), "ai_tool")
    response = client.post(f"/app/admin/lists/tools/{tools['Claude']}",
                           data={"lt": admin, "action": "rename", "name": "ÖZETLEYİCİ"})
    assert response.status_code == 409
    assert "already in the list" in text(response)


def test_each_items_buttons_name_the_item(client, launch):
    """Every tool, category and value had buttons named only "Rename" and "Turn off" (nineteen of each), so a
    screen-reader user moving by buttons could not tell which item each acted on."""
    admin = launch(role="admin", sub="boss")
    page = text(client.get("/app/admin/lists", query_string={"lt": admin}))
    buttons = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", b)).strip()
               for b in re.findall(r'<button name="action"[^>]*>(.*?)</button>', page, re.S)]
    assert "Rename Claude" in buttons and "Turn off Claude" in buttons, buttons
    assert len(set(buttons)) == len(buttons)
