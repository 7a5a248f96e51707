"""Minimum group size: small rows are hidden, and so is enough else that no difference gives them away."""
from plugin.insights.privacy import Row, protect


def row(label, people):
    return Row(label, label, frozenset(people), {"n": len(people)})


def test_rows_below_k_are_suppressed_with_a_secondary_row_when_needed():
    rows = [row("a", range(10)), row("b", range(20, 26)), row("c", range(30, 32))]
    out = {r.label: r.suppressed for r in protect(rows, 5)}
    assert out == {"a": False, "b": True, "c": True}  # c alone (2 people) would be total minus a minus b


def test_nothing_hidden_when_every_row_is_big_enough():
    rows = [row("a", range(5)), row("b", range(5, 10))]
    assert not any(r.suppressed for r in protect(rows, 5))


def test_hidden_rows_that_together_reach_k_need_no_secondary():
    rows = [row("a", range(10)), row("b", range(20, 23)), row("c", range(30, 33))]
    out = {r.label: r.suppressed for r in protect(rows, 5)}
    assert out == {"a": False, "b": True, "c": True}
    rows = [row("a", range(10)), row("b", range(10, 20)), row("c", range(30, 33)), row("d", range(40, 43))]
    assert [r.suppressed for r in protect(rows, 5)] == [False, False, True, True]
