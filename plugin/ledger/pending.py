"""PostgreSQL: the rows an experiment's award writes, held back and written in one statement at the award's end.

log_experiment reads everything its rules ask in one statement (its preflight), which also draws the new
experiment's id and a few ledger entry ids from their sequences. What follows writes nothing at once: the experiment
(with its activity and tallies), the ledger entries its rules post (under those ids) and, through ranks_last, the
board and rank rows they move all go in one statement at the end (experiments/award_write.py), the way a careful
hand-written writer would send them.

Held-back rows are invisible to reads. Whatever reads the tables they go to (the rules' facts asking the database,
a once-only rule's key, a badge award, challenge progress, pillars referring to the entry) calls `flush()` first:
the experiment and the entries are written then (the boards stay gathered for the end, as ranks_last wants), and
what follows runs as before. tests/conftest.py fails any statement that reads those tables while rows are held.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from plugin.extensions import db

_KEY = "tinker_pending_award"

# The tables whose rows may be held back (what a statement must not read while they are).
TABLES = ("experiment", "ledger_entry", "points_total", "quarter_points", "member_stat", "experiment_tally")


@dataclass
class Pending:
    """One experiment's held-back rows: `experiment`, the insert's parameters (None once written); `entries`, the
    ledger rows posted since (each with an id drawn by the preflight); `write(state, boards, ranks)` writes them
    (experiments/award_write.py), with the board rows and rank changes when called at the end."""

    write: Callable[..., None]
    experiment: dict | None
    ids: list[int]
    entries: list[dict] = field(default_factory=list)

    @property
    def rows(self) -> bool:
        return self.experiment is not None or bool(self.entries)


def start(state: Pending) -> None:
    db.session().info[_KEY] = state


def current() -> Pending | None:
    return db.session().info.get(_KEY)


def stop() -> Pending | None:
    return db.session().info.pop(_KEY, None)


def hold_entry(row: dict) -> int | None:
    """Hold a ledger entry (its columns as ledger.service inserts them) for the end, under an id the preflight drew;
    None when nothing is being held or no id is left (the caller then writes it at once, as before)."""
    state = current()
    if state is None or not state.ids:
        return None
    entry_id = state.ids.pop(0)
    state.entries.append({**row, "id": entry_id})
    return entry_id


def flush() -> None:
    """Write the held-back experiment and entries now (a read of their tables follows). The board and rank rows stay
    gathered by ranks_last for the end."""
    state = current()
    if state is not None and state.rows:
        state.write(state, None, None)

