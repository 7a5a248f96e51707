"""Handlers by delivery kind. A handler takes (payload, now) and returns a note (or None) when the
delivery is finished; it raises Retry for a transient failure and GiveUp for a permanent one."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

Handler = Callable[[dict, datetime], "str | None"]
# What a finished delivery of a kind keeps once its body is no longer kept (plugin/outbox/retention.py): given the
# row's payload, note and last error, the values to store instead (only the columns it changes).
Trimmer = Callable[[dict, "str | None", "str | None"], dict]

_handlers: dict[str, Handler] = {}
_trimmers: dict[str, Trimmer] = {}
LaneNamer = Callable[[list[str]], dict[str, str]]  # the ids after "<prefix>:" -> what the operator knows them by
_lane_namers: dict[str, LaneNamer] = {}


class Retry(Exception):
    """Try again later (timeouts, 5xx, a platform briefly unreachable). `receiver`: whether the receiver failed (as
    far as anyone can tell), so that the other deliveries to it in the pass are not sent either; False when only
    this delivery must wait (for another delivery first, for Tinker's own shared cache)."""

    def __init__(self, *args, receiver: bool = True) -> None:
        super().__init__(*args)
        self.receiver = receiver


class GiveUp(Exception):
    """Retrying cannot help (configuration missing, a permanent refusal): mark the delivery failed."""


def _registrar(table: dict, what: str, kind: str) -> Callable:
    """A decorator putting its function in `table` under `kind`; a second, different one for the kind is refused."""
    def register(fn):
        if table.get(kind, fn) is not fn:
            raise RuntimeError(f"a {what} for {kind!r} is already registered")
        table[kind] = fn
        return fn

    return register


def handler(kind: str) -> Callable[[Handler], Handler]:
    return _registrar(_handlers, "handler", kind)


def handler_for(kind: str) -> Handler | None:
    return _handlers.get(kind)


def kinds() -> list[str]:
    return sorted(_handlers)


def trimmer(kind: str) -> Callable[[Trimmer], Trimmer]:
    """Register what a finished delivery of `kind` keeps when its body is trimmed; a kind without one keeps its
    payload as it is (small, and naming nobody: a grade push's course and person ids, a challenge's id)."""
    return _registrar(_trimmers, "trimmer", kind)


def trimmer_for(kind: str) -> Trimmer | None:
    return _trimmers.get(kind)


def lane_namer(prefix: str) -> Callable[[LaneNamer], LaneNamer]:
    """Register what the lanes "<prefix>:<id>" are called for the operator (`flask outbox status`): a function given
    the ids (as text) that returns a name for each it knows."""
    return _registrar(_lane_namers, "lane namer", prefix)


def numbered(ids: list[str]) -> list[int]:
    """The ids of a lane namer's call that are numbers (row ids)."""
    return [int(key) for key in ids if key.isdigit()]


def lane_names(lanes: list[str]) -> dict[str, str]:
    """Each lane's name for the operator, where its package names it (one call per prefix)."""
    ids: dict[str, list[str]] = {}
    for lane in lanes:
        prefix, _, rest = lane.partition(":")
        ids.setdefault(prefix, []).append(rest)
    names: dict[str, str] = {}
    for prefix, some in ids.items():
        namer = _lane_namers.get(prefix)
        if namer is not None:
            names.update((f"{prefix}:{key}" if key else prefix, name) for key, name in namer(some).items())
    return names
