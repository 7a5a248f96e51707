"""Writes that change what boards, team progress and insights show without a new row in the tables whose
primary keys the data version reads (plugin/insights/version.py): an experiment edited or hidden, a membership
status or role, a name, an opt-out, a setting, a team, a challenge, a pillar, a catalog entry...

WATCHED says, per table, which writes count. A session hook notices them, whether they are ORM changes or
INSERT/UPDATE/DELETE statements run through `session.execute`, and adds one `data_change` row to the
transaction (committed or rolled back with it). The hot paths (an award: ledger, aggregates, contributions;
a launch: its last-launch time) write no watched column, so they add nothing, and an insert-only table never
serialises writers as a counter row would. Every table is classified (tests/services/test_data_version.py):
a new one must say whether it is watched.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from plugin.core.clock import utcnow


@dataclass(frozen=True)
class Watch:
    columns: frozenset[str] | None = None  # updates of these columns count (None: of any column)...
    ignore: frozenset[str] = frozenset()  # ...except these
    inserts: bool = True  # False: a new row already moves a max(id) of version.py (or changes nothing)


def _only(*names: str) -> Watch:
    return Watch(columns=frozenset(names), inserts=False)


ANY = Watch()
WATCHED: dict[str, Watch] = {
    "experiment": Watch(inserts=False),  # edits, sharing, hiding, erasure
    "membership": Watch(ignore=frozenset({"last_launch_at", "lti_roles"}), inserts=False),  # status, role
    "user_account": _only("name", "erased_at"),
    "course": _only("title", "label", "roster_sync_at"),
    "platform": _only("name"),
    "badge_award": Watch(inserts=False),  # revocations
    "badge_class": ANY, "badge_pillar": ANY,
    "board_opt_out": ANY, "board_setting": ANY, "insight_setting": ANY, "organisation_settings": ANY,
    "team": ANY, "team_member": ANY, "challenge": ANY, "challenge_tool": ANY,
    "peer_help": ANY, "reuse": ANY,
    "vision": ANY, "pillar": ANY, "ai_tool": ANY, "task_category": ANY, "value_tag": ANY, "dimension": ANY,
    "level": ANY, "identity_link": ANY, "person": ANY,
}
# Not watched: new rows move a max(id) of version.py, or the writes always come with a ledger entry or an
# audit event (kudos: points; experiment pillars: chosen with a new experiment only).
COVERED = {"ledger_entry", "audit_event", "kudos", "experiment_pillar"}
# Read models kept up to date with the facts above (rebuilding them gives the same figures).
DERIVED = {"points_total", "member_stat", "board_score", "board_rank", "team_stat", "team_standing",
           "challenge_contribution", "experiment_tally", "quarter_points"}
# Nothing boards, progress or insights show.
UNRELATED = {"api_rate_window", "api_token", "badge_recipient", "badge_signing_key", "badge_issuer", "course_copy",
             "deployment", "frame_origin", "grade_sync", "launch_session", "link_attempt", "link_code", "oidc_state",
             "outbox_item", "registration_token", "report", "rule", "rule_version", "tool_key", "tool_policy",
             "webhook_endpoint", "xapi_setting", "mission_evidence", "vision_ack", "organisation", "reaction",
             "kudos_budget", "data_change", "badge_status_entry"}

_KEY = "tinker_data_changed"
KEEP = timedelta(days=1)


def prune(now: datetime) -> int:
    """Drop data_change rows older than KEEP, always keeping the newest (the version reads only max(id), and
    keeping it means no id is ever handed out twice). Run by `flask outbox run`, the every-minute cron."""
    from plugin.extensions import db
    from plugin.insights.models import DataChange

    newest = select(func.max(DataChange.id)).scalar_subquery()
    return db.session.execute(delete(DataChange).where(DataChange.changed_at < now - KEEP,
                                                       DataChange.id < newest)).rowcount or 0


def _counts(table: str, kind: str, columns: set[str] | None) -> bool:
    watch = WATCHED.get(table)
    if watch is None:
        return False
    if kind == "insert":
        return watch.inserts
    if kind == "delete" or columns is None:
        return True
    relevant = columns - watch.ignore
    return bool(relevant if watch.columns is None else relevant & watch.columns)


def _mark(session: Session, table: str) -> None:
    from plugin.insights.models import DataChange

    change = session.info.get(_KEY)
    if change is None:
        change = session.info[_KEY] = DataChange(changed_at=utcnow(), tables=table)
        session.add(change)
    elif table not in change.tables.split(",") and len(change.tables) < 350:
        change.tables = f"{change.tables},{table}"


@event.listens_for(Session, "before_flush")
def _before_flush(session, _context, _instances) -> None:
    for obj in session.new:
        table = _table(obj)
        if table and _counts(table, "insert", None):
            _mark(session, table)
    for obj in session.deleted:
        table = _table(obj)
        if table and _counts(table, "delete", None):
            _mark(session, table)
    for obj in session.dirty:
        table = _table(obj)
        if table in WATCHED:
            state = inspect(obj)
            changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
            if changed and _counts(table, "update", changed):
                _mark(session, table)


def _table(obj) -> str | None:
    mapper = getattr(type(obj), "__mapper__", None)
    return mapper.local_table.name if mapper is not None else None


_WRITES = re.compile(r"\s*(insert|update|delete|replace|merge)\b", re.IGNORECASE)  # a statement that writes


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state) -> None:
    if isinstance(state.statement, TextClause):  # a textual write: its tables are unknown, so it counts
        if _WRITES.match(state.statement.text):
            _mark(state.session, "sql")
        return
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table not in WATCHED:
        return
    kind = "insert" if state.is_insert else "update" if state.is_update else "delete"
    columns = None
    if kind == "update":
        values = getattr(state.statement, "_values", None)
        if values:  # .values(...) given inline; parameters passed to execute() count as any column
            columns = set()
            for key, value in values.items():
                name = getattr(key, "key", None) or getattr(key, "name", None) or str(key)
                if not _written_back(state.statement.table, name, value):
                    columns.add(name)
    if _counts(table, kind, columns):
        _mark(state.session, table)


def _written_back(table, name: str, value) -> bool:
    """A column set to itself (tenancy.lock_standing's rewrite of a membership row, which only tells awards waiting
    for the row to read again): nothing changes."""
    return getattr(value, "table", None) is table and getattr(value, "key", None) == name


@event.listens_for(Session, "after_transaction_end")
def _transaction_end(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session, _previous) -> None:  # the row may have gone with a savepoint: add another if needed
    session.info.pop(_KEY, None)
