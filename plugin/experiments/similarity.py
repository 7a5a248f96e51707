"""Near-duplicate text: Jaccard similarity of word 3-shingles (pure)."""
from __future__ import annotations

import re
import unicodedata
import zlib
from functools import lru_cache

WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Case-fold for comparison, Turkish included: I, İ, ı and i all become i."""
    text = unicodedata.normalize("NFKC", text).replace("İ", "i").replace("I", "i")
    return text.casefold().replace("ı", "i").replace("\u0307", "")


def shingles(text: str, size: int = 3) -> set[tuple[str, ...]]:
    folded = fold(text)
    words = WORD.findall(folded)
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set, b: set) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


@lru_cache(maxsize=2048)
def _shingles_of(text: str) -> frozenset[tuple[str, ...]]:
    """shingles() memoised by the text itself (a pure function, so never stale): each new experiment is
    compared with its author's recent ones, whose shingles were computed the last time already."""
    return frozenset(shingles(text))


def fingerprint(shingled: set[tuple[str, ...]]) -> list[int]:
    """Each shingle as a signed 32-bit integer (CRC-32 of its words: the same in every process and release), sorted.
    Texts sharing a shingle share its number; two numbers alike for different shingles only make a text compared
    that scores nothing, so whoever filters by them (the award's preflight) loses no near-duplicate."""
    numbers = {zlib.crc32("\x1f".join(shingle).encode()) for shingle in shingled}
    return sorted(n - (1 << 32) if n >= 1 << 31 else n for n in numbers)


def most_similar(text: str, others: list[tuple[int, str]], mine: set | None = None) -> tuple[int | None, float]:
    """(id, score) of the most similar of (id, text) pairs; (None, 0.0) when there are none. `mine`: the text's
    shingles, when the caller has them."""
    if mine is None:
        mine = shingles(text)
    size = len(mine)
    best_id, best = None, 0.0
    for other_id, other in others:  # jaccard() inlined: an author's recent entries can be hundreds
        theirs = _shingles_of(other)
        if mine.isdisjoint(theirs):  # scores 0, never above best: most entries, and no set built to say so
            continue
        common = len(mine & theirs)
        union = size + len(theirs) - common
        score = common / union if union else 0.0
        if score > best:
            best_id, best = other_id, score
    return best_id, best
