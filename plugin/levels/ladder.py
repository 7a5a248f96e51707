"""Pure level arithmetic over a ladder of (name, threshold)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    name: str
    threshold: int


@dataclass(frozen=True)
class Progress:
    level: Step
    next: Step | None
    points: int

    @property
    def percent(self) -> int:
        """Share of the way from this level to the next (100 at the top)."""
        if self.next is None:
            return 100
        span = self.next.threshold - self.level.threshold
        return max(0, min(100, (self.points - self.level.threshold) * 100 // span))

    @property
    def to_next(self) -> int:
        return 0 if self.next is None else self.next.threshold - self.points


def progress(points: int, ladder: list[Step]) -> Progress:
    steps = sorted(ladder, key=lambda s: s.threshold)
    if not steps or steps[0].threshold > 0:
        steps = [Step("Starter", 0), *steps]
    current = steps[0]
    following = steps[1] if len(steps) > 1 else None
    for index, step in enumerate(steps):
        if points >= step.threshold:
            current = step
            following = steps[index + 1] if index + 1 < len(steps) else None
    return Progress(current, following, points)
