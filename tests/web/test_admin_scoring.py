"""The admin's scoring page (dimensions, levels, time zone, fairness limits) sent back with errors."""
from __future__ import annotations

import re

from tests.web.helpers import text


def _field(page: str, field_id: str) -> str:
    return re.search(rf'<input id="{field_id}"[^>]*>', page).group(0)


def test_limits_sent_back_keep_what_the_admin_typed_with_each_message_by_its_field(client, launch):
    admin = launch(role="admin", sub="boss")
    stored = text(client.get("/app/admin/scoring", query_string={"lt": admin}))
    assert 'value="60"' in _field(stored, "l-daily_points_cap") and 'value="3"' in _field(stored, "l-repeat_free_count")
    response = client.post("/app/admin/scoring/limits", data={
        "lt": admin, "daily_points_cap": "-1", "repeat_free_count": "7", "repeat_factor_percent": "50",
        "duplicate_threshold_percent": "80", "min_reflection_chars": "20", "kudos_monthly_budget": "100",
        "help_pair_cap": "3", "help_pair_window_days": "30"})
    page = text(response)
    assert response.status_code == 422
    # What was typed stays, the wrong value to correct and the changed one alike (not the stored 60 and 3, which
    # put "a whole number from 0 to 10000" beside a valid-looking 60 and silently dropped the 7).
    wrong = _field(page, "l-daily_points_cap")
    assert 'value="-1"' in wrong and 'value="7"' in _field(page, "l-repeat_free_count")
    assert 'aria-invalid="true"' in wrong
    described_by = re.search(r'aria-describedby="([^"]+)"', wrong).group(1)
    assert re.search(rf'<p class="field-error" id="{described_by}">[^<]*10000', page)
    assert '<a href="#l-daily_points_cap">' in page
    assert "aria-invalid" not in _field(page, "l-repeat_free_count")
    assert 'value="60"' in _field(text(client.get("/app/admin/scoring", query_string={"lt": admin})),
                                  "l-daily_points_cap")  # nothing was saved


def test_the_error_summary_lists_each_wrong_limit_by_its_label_even_when_their_messages_are_alike(client, launch):
    """Two percentages out of range say the same words ("A whole number from 0 to 100."): the summary listed the
    message once, so one wrong field was never named, and no item said which field it was about."""
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/scoring/limits", data={
        "lt": admin, "daily_points_cap": "60", "repeat_free_count": "3", "repeat_factor_percent": "150",
        "duplicate_threshold_percent": "101", "min_reflection_chars": "-2", "kudos_monthly_budget": "100",
        "help_pair_cap": "3", "help_pair_window_days": "30"})
    assert response.status_code == 422
    summary = re.search(r'<div class="card error-summary" role="alert"[^>]*>(.*?)</div>', text(response), re.S).group(1)
    items = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", li)).strip() for li in re.findall(r"<li>(.*?)</li>", summary, re.S)]
    links = re.findall(r'<a href="#([^"]+)">', summary)
    assert links == ["l-repeat_factor_percent", "l-duplicate_threshold_percent", "l-min_reflection_chars"]
    assert items[0].startswith("…then this percentage of the points: ") and items[0].endswith("0 to 100.")
    assert items[1].startswith("Near-duplicate text threshold (%): ") and items[1].endswith("0 to 100.")
    assert items[2].startswith("Minimum reflection length for a failed experiment: ")


def test_taking_off_a_level_a_rule_names_is_refused_on_the_page_saying_which_rule(client, launch):
    admin = launch(role="admin", sub="boss")
    saved = client.post("/app/admin/rules/save", data={
        "lt": admin, "condition": "level_reached", "name": "Reached Explorer", "param_level": "Explorer",
        "points": "5", "dimension": "experimenting", "active": "on", "action": "save"})
    assert saved.status_code == 303
    response = client.post("/app/admin/scoring/levels", data={
        "lt": admin, "level_name": ["Curious", "Pioneer", "Catalyst"], "level_threshold": ["0", "40", "600"]})
    assert response.status_code == 422
    assert "Reached Explorer" in text(response) and "Explorer" in text(response)
    ladder = text(client.get("/app/admin/scoring", query_string={"lt": admin}))
    assert 'value="Explorer"' in ladder and 'value="Pioneer"' not in ladder  # nothing was saved


def test_a_refused_dimension_keeps_what_was_typed_and_its_message_leads_to_the_name(client, launch):
    """"There is already a dimension called Helping" came back with both boxes empty, the message in the summary
    linked to nothing and the name box not marked: the admin retyped the description to try another name."""
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/scoring/dimensions", data={
        "lt": admin, "name": "Helping", "description": "Helping colleagues, in person"})
    page = text(response)
    assert response.status_code == 409
    name = _field(page, "d-name")
    assert 'value="Helping"' in name and 'aria-invalid="true"' in name
    assert 'value="Helping colleagues, in person"' in _field(page, "d-desc")
    assert '<a href="#d-name">' in page


def test_refused_levels_keep_the_ladder_the_admin_typed_with_the_message_leading_to_it(client, launch):
    """Two levels from 40 points: the page came back with the stored ladder (every edit gone) and a message
    linked to no field."""
    admin = launch(role="admin", sub="boss")
    response = client.post("/app/admin/scoring/levels", data={
        "lt": admin, "level_name": ["Curious", "Explorer", "Practitioner", "Pathfinder", "Catalyst", "Legend"],
        "level_threshold": ["0", "40", "40", "300", "600", "1000"]})
    page = text(response)
    assert response.status_code == 422
    assert 'value="Legend"' in page and 'value="1000"' in page
    assert re.search(r'<input id="lt-3"[^>]*value="40"', page)  # the third level's threshold as typed (stored: 120)
    assert '<a href="#ln-1">' in page
    assert 'aria-invalid="true"' in _field(page, "ln-1")


def _ladder(page: str) -> list[tuple[str, str]]:
    names = re.findall(r'<input id="ln-\d+" name="level_name" value="([^"]*)"', page)
    thresholds = re.findall(r'<input id="lt-\d+" name="level_threshold" type="number" min="0" value="([^"]*)"', page)
    return list(zip(names, thresholds))


def test_a_level_with_its_name_or_its_points_cleared_is_refused_and_one_with_both_cleared_goes(client, launch):
    """A name cleared by mistake took its level off under "Saved.", and the learners above it down a level."""
    admin = launch(role="admin", sub="boss")
    stored = _ladder(text(client.get("/app/admin/scoring", query_string={"lt": admin})))
    assert len(stored) >= 3
    for cleared in ({"name": ""}, {"threshold": ""}):
        names, thresholds = [n for n, _t in stored], [t for _n, t in stored]
        names[1], thresholds[1] = cleared.get("name", names[1]), cleared.get("threshold", thresholds[1])
        response = client.post("/app/admin/scoring/levels", data={
            "lt": admin, "level_name": [*names, ""], "level_threshold": [*thresholds, ""]})
        assert response.status_code == 422, cleared
        assert "Give each level a name and a threshold; to take a level off, clear both." in text(response)
        assert _ladder(text(client.get("/app/admin/scoring", query_string={"lt": admin}))) == stored
    names, thresholds = [n for n, _t in stored], [t for _n, t in stored]
    names[1] = thresholds[1] = ""
    response = client.post("/app/admin/scoring/levels", data={
        "lt": admin, "level_name": [*names, ""], "level_threshold": [*thresholds, ""]})
    assert response.status_code == 303
    assert _ladder(text(client.get("/app/admin/scoring", query_string={"lt": admin}))) == [stored[0], *stored[2:]]
