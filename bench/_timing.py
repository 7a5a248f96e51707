"""Shared timing helpers: interleaved rounds, medians with min-max, ratios to a floor measured in the same run."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of fn over roughly `seconds`."""
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        fn()
        calls += 1
        if calls % 16 == 0 and time.perf_counter() >= deadline:
            break
    return calls / (time.perf_counter() - start)


def interleaved(named: dict[str, Callable[[], object]], rounds: int, seconds: float) -> dict[str, list[float]]:
    """Run each scenario for `seconds` per round, alternating, so machine noise hits all alike."""
    out: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(rounds):
        for name, fn in named.items():
            out[name].append(rate(fn, seconds))
    return out


def describe(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f}/s (min {min(values):,.0f}, max {max(values):,.0f})"


def ratio(values: list[float], floor: list[float]) -> float:
    return statistics.median(values) / statistics.median(floor)


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of latencies; 0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0
