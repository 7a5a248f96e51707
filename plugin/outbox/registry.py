"""Handlers by delivery kind. A handler takes (payload, now) and returns a note (or None) when the
delivery is finished; it raises Retry for a transient failure and GiveUp for a permanent one."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

Handler = Callable[[dict, datetime], "str | None"]

_handlers: dict[str, Handler] = {}


class Retry(Exception):
    """Try again later (timeouts, 5xx, a platform briefly unreachable)."""


class GiveUp(Exception):
    """Retrying cannot help (configuration missing, a permanent refusal): mark the delivery failed."""


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if _handlers.get(kind, fn) is not fn:
            raise RuntimeError(f"a handler for {kind!r} is already registered")
        _handlers[kind] = fn
        return fn

    return register


def handler_for(kind: str) -> Handler | None:
    return _handlers.get(kind)


def kinds() -> list[str]:
    return sorted(_handlers)
