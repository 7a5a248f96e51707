"""Board keys and rank blocks: how a board row is named ("<scope>:<period>:<dimension>", scopes c<course>,
o<organisation>, x<challenge>) and how rank buckets group into blocks. Shared by the writers and readers of boards."""
from __future__ import annotations

from collections import defaultdict


def course_scope(course_id: int) -> str:
    return f"c{course_id}"


def organisation_scope(organisation_id: int) -> str:
    return f"o{organisation_id}"


def challenge_scope(challenge_id: int) -> str:
    return f"x{challenge_id}"


def board_key(scope: str, period: str, dimension: str) -> str:
    return f"{scope}:{period}:{dimension}"


def split_key(board: str) -> tuple[str, str, str]:
    scope, period, dimension = board.split(":", 2)
    return scope, period, dimension


# Rank blocks: beside its buckets (people per points value) a board keeps, under the key "<board>#", how many
# people hold points in each block of BLOCK consecutive values (row points = block number). A rank then sums
# the blocks above a person's block plus the buckets above them inside it: at most BLOCK + (highest points /
# BLOCK) rows, however many distinct values the board holds. The sum of a board's blocks is its size.
BLOCK = 1024
BLOCKS = "#"


def blocks_key(board: str) -> str:
    return board + BLOCKS


def block_of(points: int) -> int:
    return points // BLOCK  # floor, negatives included


def with_blocks(buckets: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Bucket counts (board, points) -> the same plus the block counts they imply."""
    out: dict[tuple[str, int], int] = defaultdict(int)
    for (board, points), n in buckets.items():  # blocks_key() and block_of() inlined: every award moves ~24
        out[(board, points)] += n
        out[(board + BLOCKS, points // BLOCK)] += n
    return out

