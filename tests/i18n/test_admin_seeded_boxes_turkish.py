"""The admin's edit boxes for names Tinker seeded (task categories, values, levels): the box keeps the stored
English (saving it unchanged keeps the name seeded, so it goes on reading in each reader's language), and a
Turkish admin is told, beside it, what Turkish learners read until it is renamed."""
import html
import re

from tests.web.helpers import options, text, visible

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
TURKISH = {"overrides": {LTI + "launch_presentation": {"return_url": "https://lms.example.edu/x", "locale": "tr"}}}
SHOWN_AS = "Türkçe sayfalarda “Yazma ve düzenleme” olarak görünür (yeniden adlandırılana kadar)."


def _category_id(page: str) -> str:
    return re.search(r'<input id="categories-(\d+)" name="name" value="Writing and editing"', page).group(1)


def test_a_seeded_list_item_says_what_turkish_learners_read_and_stays_seeded_when_saved(client, launch):
    english = launch(role="admin", sub="boss")
    page = text(client.get("/app/admin/lists", query_string={"lt": english}))
    assert "Shown on" not in page  # English readers read the stored text itself

    admin = launch(role="admin", sub="boss", **TURKISH)
    page = text(client.get("/app/admin/lists", query_string={"lt": admin}))
    item = _category_id(page)  # the box holds what is stored
    assert SHOWN_AS in html.unescape(visible(client.get("/app/admin/lists", query_string={"lt": admin})))
    hint = re.search(rf'<input id="categories-{item}"[^>]*aria-describedby="([^"]+)"', page).group(1)
    assert f'id="{hint}"' in page  # the note is read with the box
    assert "Yeniden adlandırın Yazma ve düzenleme" in visible(client.get("/app/admin/lists", query_string={"lt": admin}))

    saved = client.post(f"/app/admin/lists/categories/{item}",
                        data={"lt": admin, "action": "rename", "name": "Writing and editing"})
    assert saved.status_code == 303
    learner = launch(sub="ada", **TURKISH)
    assert "Yazma ve düzenleme" in options(text(client.get("/app/experiments/new", query_string={"lt": learner})),
                                           "task_category")


def test_seeded_level_names_say_what_turkish_learners_read_and_stay_seeded_when_saved(client, launch):
    admin = launch(role="admin", sub="boss", **TURKISH)
    page = text(client.get("/app/admin/scoring", query_string={"lt": admin}))
    assert 'id="ln-1" name="level_name" value="Curious"' in page
    assert "Türkçe sayfalarda “Meraklı” olarak görünür" in html.unescape(visible(
        client.get("/app/admin/scoring", query_string={"lt": admin})))

    names = re.findall(r'name="level_name" value="([^"]*)"', page)
    thresholds = re.findall(r'name="level_threshold" type="number" min="0" value="([^"]*)"', page)
    saved = client.post("/app/admin/scoring/levels", data={"lt": admin, "level_name": names + [""],
                                                           "level_threshold": thresholds + [""]})
    assert saved.status_code == 303
    again = html.unescape(visible(client.get("/app/admin/scoring", query_string={"lt": admin})))
    assert "Türkçe sayfalarda “Meraklı” olarak görünür" in again  # still seeded: not turned into a custom name


def test_a_seeded_badge_says_what_turkish_learners_read_beside_its_name_and_description(client, launch):
    """The badges page's boxes hold a seeded badge's stored English name and description, as the lists and levels
    do; a Turkish admin is told beside each what Turkish learners read, and the box is described by it."""
    english = launch(role="admin", sub="boss")
    assert "Shown on" not in text(client.get("/app/admin/badges", query_string={"lt": english}))
    admin = launch(role="admin", sub="boss", **TURKISH)
    page = text(client.get("/app/admin/badges", query_string={"lt": admin}))
    shown = html.unescape(visible(client.get("/app/admin/badges", query_string={"lt": admin})))
    assert "Türkçe sayfalarda “İlk deneme” olarak görünür (yeniden adlandırılana kadar)." in shown
    name_box = re.search(r'<input id="(b\d+)-name" name="name" value="First experiment"[^>]*>', page)
    hint = re.search(r'aria-describedby="([^"]+)"', name_box.group(0)).group(1)
    assert f'id="{hint}"' in page and "İlk deneme" in re.search(rf'id="{hint}">([^<]+)<', page).group(1)
    description = re.search(rf'<input id="{name_box.group(1)}-desc" name="description" value="Logged a first AI '
                            r'experiment[^"]*"[^>]*aria-describedby="([^"]+)"', page)
    assert description and f'id="{description.group(1)}"' in page


def test_a_seeded_rules_edit_page_says_what_turkish_learners_read_beside_its_name(client, launch):
    admin = launch(role="admin", sub="boss", **TURKISH)
    rules = text(client.get("/app/admin/rules/", query_string={"lt": admin}))
    rule_id = re.search(r"/app/admin/rules/(\d+)[^>]*>İlk Adım</a>", rules).group(1)
    page = text(client.get(f"/app/admin/rules/{rule_id}", query_string={"lt": admin}))
    box = re.search(r'<input id="r-name" name="name" value="First Try"[^>]*>', page).group(0)
    hint = re.search(r'aria-describedby="([^"]+)"', box).group(1)
    assert "Türkçe sayfalarda “İlk Adım” olarak görünür" in html.unescape(
        re.search(rf'id="{hint}">([^<]+)<', page).group(1))
