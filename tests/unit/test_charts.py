"""The SVG charts as a reader meets them: named, escaped, scaled, readable without colour, and sane when empty."""
import re
import xml.etree.ElementTree as ET

import pytest

from plugin.web import charts
from plugin.web.charts import Series, bar_chart, contrast, hbar_chart, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # well-formed XML, or this raises


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text")]


def accessible_name(root: ET.Element) -> str:
    ids = root.get("aria-labelledby").split()
    by_id = {el.get("id"): el.text for el in root.iter() if el.get("id")}
    return by_id[ids[0]]


def test_a_bar_chart_is_one_named_image_with_a_description():
    root = parse(bar_chart("weekly", "Participation by week", ["W1", "W2"], [10, 20], description="See the table."))
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Participation by week" == accessible_name(root)
    assert root.find(f"{SVG}desc").text == "See the table."
    assert root.get("aria-labelledby") == "weekly-title weekly-desc"


def test_every_text_is_escaped():
    evil = '<script>alert("x")</script> & "quotes"'
    markup = str(hbar_chart("evil", evil, [evil], [Series(evil, [3]), Series("b", [1])], description=evil))
    assert "<script>" not in markup
    root = parse(markup)
    assert root.find(f"{SVG}title").text == evil
    assert evil in texts(root)  # the legend names the series in full


def test_chart_ids_are_checked_so_they_cannot_break_out_of_attributes():
    for bad in ('x" onload="alert(1)', "", "Upper", "a b"):
        with pytest.raises(ValueError):
            bar_chart(bad, "t", [], [])


def test_bars_scale_to_a_nice_maximum_and_carry_their_values():
    root = parse(bar_chart("scale", "t", ["a", "b", "c"], [5, 10, 20]))
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect")]
    assert heights[2] == pytest.approx(2 * heights[1]) == pytest.approx(4 * heights[0])
    assert {"5", "10", "20"} <= set(texts(root))  # direct labels, not colour, carry the numbers
    assert nice_ceiling(20) == 20 and nice_ceiling(21) == 25 and nice_ceiling(7) == 10 and nice_ceiling(0.3) == 0.5


def test_a_fixed_maximum_caps_bars_and_labels_show_the_unit():
    root = parse(bar_chart("pct", "t", ["a", "b"], [50, 150], max_value=100, value_text=charts.percent_text))
    half, full = (float(r.get("height")) for r in root.iter(f"{SVG}rect"))
    assert full == pytest.approx(2 * half)  # 150% is drawn as a full bar, not off the chart
    assert "50%" in texts(root) and "150%" in texts(root) and "100%" in texts(root)


def test_empty_data_draws_a_message_not_an_error():
    for markup in (bar_chart("e1", "Nothing", [], []), hbar_chart("e2", "Nothing", [], [Series("a", [])]),
                   hbar_chart("e3", "Nothing", ["x"], [])):
        root = parse(markup)
        assert "Nothing recorded yet" in texts(root) and root.get("role") == "img"


def test_all_zero_values_draw_no_bars_and_no_division_by_zero():
    root = parse(bar_chart("zero", "t", ["a", "b"], [0, 0]))
    assert all(float(r.get("height")) == 0 for r in root.iter(f"{SVG}rect"))
    assert "Nothing recorded yet" in texts(root) and texts(root).count("0") >= 2
    grouped = parse(hbar_chart("zero2", "t", ["a"], [Series("x", [0]), Series("y", [0])]))
    assert "Nothing recorded yet" in texts(grouped)


def test_garbage_values_are_drawn_as_zero():
    root = parse(bar_chart("junk", "t", ["a", "b", "c"], [None, float("nan"), -3]))
    assert all(float(r.get("height")) == 0 for r in root.iter(f"{SVG}rect"))


def test_grouped_series_differ_by_pattern_and_are_named_in_a_legend():
    root = parse(hbar_chart("grp", "t", ["Writing", "Marking"], [Series("This month", [1, 2]), Series("All time", [3, 4])]))
    fills = {r.get("fill") for r in root.iter(f"{SVG}rect") if r.get("stroke-width")}
    assert any(f.startswith("url(#grp-p1)") for f in fills) and any(f.startswith("#") for f in fills)
    assert root.find(f"{SVG}defs/{SVG}pattern").get("id") == "grp-p1"
    assert {"This month", "All time", "Writing", "Marking", "1", "2", "3", "4"} <= set(texts(root))


def test_stacked_rows_show_each_segment_and_the_total():
    root = parse(hbar_chart("stk", "t", ["This month", "All time"],
                            [Series("Worked", [3, 30]), Series("Failed", [1, 10])], stacked=True))
    month_worked, month_failed, all_worked, all_failed = [  # legend swatches (16 wide) left out
        float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("stroke-width") and r.get("width") != "16"]
    assert all_worked == pytest.approx(3 * all_failed, abs=0.2) and all_failed == pytest.approx(10 * month_failed, abs=1)
    assert month_worked == pytest.approx(3 * month_failed, abs=0.2)
    assert {"40", "30", "10"} <= set(texts(root))  # the all-time total and its segments


def test_long_labels_are_shortened_with_an_ellipsis():
    root = parse(hbar_chart("long", "t", ["A category with a really very long name indeed, longer than fits"],
                            [Series("x", [1])], label_width=120))
    label = next(t for t in texts(root) if t.startswith("A category"))
    assert label.endswith("…") and len(label) < 20


def test_palette_and_text_meet_wcag_contrast_on_the_page_and_card_backgrounds():
    for background in charts.BACKGROUNDS:
        for colour in charts.PALETTE:
            assert contrast(colour, background) >= 3, (colour, background)  # non-text contrast, 1.4.11
        for text_colour in (charts.INK, charts.MUTED):
            assert contrast(text_colour, background) >= 4.5, (text_colour, background)  # 1.4.3


def test_no_script_no_inline_style_no_external_reference():
    markup = str(hbar_chart("safe", "t", ["a"], [Series("x", [1]), Series("y", [2]), Series("z", [3])]))
    assert "<script" not in markup and "style=" not in markup and "http" not in markup.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert not re.search(r'href="(?!#)', markup)
