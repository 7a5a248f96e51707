"""Names as they are stored (plugin/core/names.py): one Unicode form, no control characters, single spaces."""
from __future__ import annotations

import pytest

from plugin.core.names import tidy
from plugin.core.text_fold import key

NFD_CIZELGE = "C\u0327izelge"  # "Çizelge" as "C" and a combining cedilla (macOS, some input methods)


def test_a_name_typed_decomposed_is_stored_precomposed():
    assert NFD_CIZELGE != "Çizelge"
    assert tidy(NFD_CIZELGE) == "Çizelge"


@pytest.mark.parametrize("sent, stored", [
    ("Red\x1b[31m team", "Red [31m team"),  # a terminal escape: no colour codes in pages, CSVs or logs
    ("Red\x07team", "Red team"),  # a bell
    ("Red\r\nteam\t", "Red team"),  # line breaks and tabs
    ("Red\x85team\x9b", "Red team"),  # C1 controls (NEL, CSI)
    ("Red\x7fteam", "Red team"),  # DEL
    ("  Red   team  ", "Red team"),
    (None, ""),
])
def test_control_characters_become_spaces_and_spaces_are_single(sent, stored):
    assert tidy(sent) == stored


@pytest.mark.parametrize("name", ["👩\u200d💻 Devs", "\u200fفريق", "Ayşe Öztürk"])
def test_format_characters_and_letters_are_kept(name):
    """Zero-width joiners (emoji sequences) and bidirectional marks are part of how such names are written."""
    assert tidy(name) == name


def test_names_compare_alike_whichever_way_they_were_typed():
    assert key(NFD_CIZELGE.upper()) == key("çizelge")
    assert key("I\u0307stanbul") == key("İstanbul") == key("istanbul")  # İ as I and a combining dot above


def test_a_name_stored_before_names_were_tidied_compares_alike_with_the_tidy_one():
    """Rows written before (a double space, a stray control character) still clash with, or are found by, the name
    as it is sent now: a level, a badge or a rule named so is the same one."""
    assert key("Gold  Star\x07") == key("gold star")
