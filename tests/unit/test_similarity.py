"""Near-duplicate text detection: word 3-shingles and Jaccard similarity (pure), folding case, punctuation and
compatibility forms, in any language the organisation writes in."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from plugin.experiments.similarity import fingerprint, jaccard, most_similar, shingles

LONG = ("Asked the assistant to turn my messy meeting notes from the curriculum committee into a clear list of "
        "decisions, owners and deadlines. Then I checked every item against the recording, fixed two names it had "
        "mixed up, and sent the list to the team the same afternoon instead of the usual three days later.")


def similarity(a: str, b: str) -> float:
    return jaccard(shingles(a), shingles(b))


def test_shingles_are_overlapping_runs_of_three_words():
    assert shingles("one two three four") == {("one", "two", "three"), ("two", "three", "four")}
    assert shingles("one two three four", size=2) == {("one", "two"), ("two", "three"), ("three", "four")}


def test_short_texts_are_one_shingle_and_empty_texts_none():
    assert shingles("just two") == {("just", "two")}
    assert shingles("") == set()
    assert shingles(" ... !!! ") == set()


def test_case_and_punctuation_are_folded():
    assert shingles("Hello, WORLD! Again?") == shingles("hello world again") == {("hello", "world", "again")}
    assert similarity("Summarise THIS report; please.", "summarise this report please") == 1.0


def test_compatibility_forms_and_caseless_letters_are_folded():
    assert shingles("ＡＩ ｄｒａｆｔｅｄ ｉｔ") == shingles("ai drafted it")  # full-width forms
    assert shingles("the ﬁle was ﬁxed") == shingles("the file was fixed")  # ligatures
    assert shingles("STRASSE wird gebaut") == shingles("straße wird gebaut")


def test_turkish_letters_are_letters_not_word_breaks():
    words = shingles("çalışma ğüşöç ışık", size=1)
    assert len(words) == 3 and ("ğüşöç",) in words
    assert sorted(len(w) for (w,) in words) == [4, 5, 7]
    text = "Yapay zekâ ile toplantı notlarını özetledim ve öğrencilere gönderdim"
    assert similarity(text, text) == 1.0
    assert similarity(text, text.replace("öğrencilere", "öğretmenlere")) < 1.0


def test_a_turkish_capital_dotted_i_does_not_split_the_word():
    assert shingles("İstanbul ofisi", size=1) == {("istanbul",), ("ofisi",)}


def test_turkish_text_in_capitals_is_the_same_text():
    lower = "istanbul ofisinde yapay zekâ ile toplantı notlarını özetledim"
    assert similarity(lower.upper(), lower) == 1.0


def test_jaccard_of_sets():
    assert jaccard({1, 2, 3}, {1, 2, 3}) == 1.0
    assert jaccard({1, 2}, {3, 4}) == 0.0
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    assert jaccard({1}, set()) == 0.0


def test_two_empty_texts_are_not_duplicates_of_each_other():
    assert jaccard(set(), set()) == 0.0
    assert most_similar("", [(1, "")]) == (None, 0.0)


def test_a_small_reordering_of_a_long_text_stays_above_the_default_threshold():
    assert similarity(LONG, LONG.replace("owners and deadlines", "deadlines and owners")) >= 0.8


def test_a_different_text_on_the_same_theme_stays_well_below_it():
    other = "Asked the assistant for a list of decisions from the committee and it missed half of them."
    assert similarity(LONG, other) < 0.3


def test_most_similar_picks_the_closest_earlier_entry():
    others = [(1, "Drafted a parents' letter about the school trip"), (2, LONG),
              (3, LONG.replace("the same afternoon", "a week later"))]
    best, score = most_similar(LONG.upper(), others)
    assert (best, score) == (2, 1.0)


def test_most_similar_keeps_the_first_of_equally_close_entries():
    assert most_similar(LONG, [(7, LONG), (8, LONG)]) == (7, 1.0)


def test_most_similar_without_anything_in_common():
    assert most_similar(LONG, []) == (None, 0.0)
    assert most_similar(LONG, [(1, "entirely unrelated words here")]) == (None, 0.0)


def test_texts_sharing_a_word_triple_share_a_fingerprint_number_and_others_none_here():
    mine = set(fingerprint(shingles(LONG)))
    assert len(mine) == len(shingles(LONG))
    assert mine & set(fingerprint(shingles("Before that: " + LONG.split(".")[0])))
    assert not mine & set(fingerprint(shingles("Drafted a friendly letter about the school trip for parents.")))
    assert fingerprint(shingles("")) == []


def test_a_texts_fingerprint_is_the_same_in_every_process():
    """Instances compare what others stored, so the numbers cannot depend on the process (Python's own hash() of a
    string does: it is salted per process)."""
    code = ("from plugin.experiments.similarity import fingerprint, shingles; import sys; "
            "print(fingerprint(shingles(sys.argv[1])))")
    printed = {subprocess.run([sys.executable, "-c", code, LONG], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=True).stdout for seed in ("1", "2")}
    assert printed == {f"{fingerprint(shingles(LONG))}\n"}
