"""ExperimentIn's plain instances start from fields built once (schemas.Prebuilt): they load and refuse exactly as
a schema built from scratch does, each on its own, and instances given options are built as marshmallow does."""
from __future__ import annotations

import pytest
from marshmallow import ValidationError

from plugin.experiments.schemas import ExperimentIn

GOOD = {"submission_key": "abcdefgh12345678", "title": "Summarised the minutes", "ai_tool": "3", "task_category": "4",
        "tried": "Asked it for a one-page summary", "outcome": "worked", "sensitive_data": "no",
        "visibility": "course", "pillars": ["2", "1"]}
BAD = [
    {**GOOD, "title": "ab"},  # too short
    {**GOOD, "ai_tool": "other"},  # other without a name
    {**GOOD, "outcome": "failed"},  # failed without what was learned
    {**GOOD, "anonymous": "on"},  # anonymous only when it failed
    {**GOOD, "minutes_saved": "-5", "visibility": "everyone"},
    {key: value for key, value in GOOD.items() if key != "tried"},
]


def _errors(schema, data):
    with pytest.raises(ValidationError) as err:
        schema.load(data)
    return err.value.messages


def test_plain_instances_load_and_refuse_as_a_schema_built_from_scratch():
    scratch = ExperimentIn(partial=False)  # given an option: built the ordinary way
    first, second = ExperimentIn(), ExperimentIn()
    assert first.load(GOOD) == second.load(GOOD) == scratch.load(GOOD)
    assert first.load(GOOD)["pillars"] == [2, 1] and first.load(GOOD)["task_category"] == 4
    for data in BAD:
        assert _errors(first, data) == _errors(second, data) == _errors(scratch, data)
    assert "title" in _errors(ExperimentIn(), BAD[0]) and "learned" in _errors(ExperimentIn(), BAD[2])


def test_instances_keep_their_own_options_and_containers():
    untried = {key: value for key, value in GOOD.items() if key != "tried"}
    assert "tried" not in ExperimentIn(partial=True).load(untried) and "tried" in _errors(ExperimentIn(), untried)
    assert set(ExperimentIn(only=("title",)).fields) == {"title"}
    tampered = ExperimentIn()
    tampered.fields.pop("title")
    tampered.exclude.add("tried")
    assert "title" in ExperimentIn().fields and not ExperimentIn().exclude
    assert _errors(ExperimentIn(), {**GOOD, "title": ""}) == _errors(ExperimentIn(partial=False), {**GOOD, "title": ""})


@pytest.mark.parametrize("tool", ["\u00b2", "\u0663", " 3", "3 ", "+3", "-3", "0", "3000000000", "2147483648",
                                  "99999999999999999999", "3.0", "0x3"])
def test_a_tool_is_an_id_in_range_written_in_ascii_digits(tool):
    """"²".isdigit() is true and "٣" is a digit to int(): neither names a row, and no id beyond 2**31-1 exists."""
    assert _errors(ExperimentIn(), {**GOOD, "ai_tool": tool}) == {"ai_tool": ["Choose a tool from the list, or Other."]}


@pytest.mark.parametrize("tool", ["1", "2147483647", "007"])
def test_tool_ids_in_range_load(tool):
    assert ExperimentIn().load({**GOOD, "ai_tool": tool})["ai_tool"] == tool


def test_other_still_needs_a_name_and_then_loads():
    assert ExperimentIn().load({**GOOD, "ai_tool": "other", "ai_tool_other": "Copilot"})["ai_tool"] == "other"


@pytest.mark.parametrize("field, value", [("task_category", "3000000000"), ("task_category", "0"),
                                          ("pillars", ["2", "99999999999999999999"])])
def test_category_and_pillar_ids_are_in_range(field, value):
    assert field in _errors(ExperimentIn(), {**GOOD, field: value})
