"""Database kernel: declarative base, UTC timestamps, SQLite tuning and portable upserts."""
from __future__ import annotations

import contextvars
import operator
import select
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import DateTime, MetaData, bindparam, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, scoped_session
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

from plugin.core import memo

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, hands back aware UTC, on every backend alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def sqlite_utc_text(value: datetime) -> str:
    """What UTCDateTime then SQLite's DATETIME make of an aware timestamp (naive UTC, microseconds always
    written: "2026-11-29 16:49:16.000000"), for Hot statements: one isoformat call instead of a format string
    filled from seven attributes, on every timestamp of every award."""
    text = _utc_texts.get(value)  # an award passes the same moments (now, a day's bounds) to several statements
    if text is None:
        if value.tzinfo is None:  # (a naive datetime never equals an aware one, so never finds one's text)
            raise ValueError("naive datetime given to a UTC column")
        text = (value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)).replace(
            tzinfo=None).isoformat(" ", "microseconds")
        if len(_utc_texts) >= 256:
            _utc_texts.clear()
        _utc_texts[value] = text
    return text


_utc_texts: dict[datetime, str] = {}  # recent timestamps' texts (equal aware datetimes are the same instant)


# --- SQLite: WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE for writers ---------------------
# A deferred transaction that reads and then writes fails at once ("database is locked") when another
# writer committed in between; declaring write intent up front makes it wait its turn instead.
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("tinker_write_intent", default=False)


def set_write_intent(value: bool) -> contextvars.Token:
    return _write_intent.set(value)


def reset_write_intent(token: contextvars.Token) -> None:
    _write_intent.reset(token)


@contextmanager
def writing() -> Iterator[None]:
    """Mark the transactions opened inside as writers (CLI commands, background jobs)."""
    token = _write_intent.set(True)
    try:
        yield
    finally:
        _write_intent.reset(token)


@contextmanager
def reads_then_writes(session) -> Iterator[None]:
    """A writer whose block only reads: on SQLite the block runs in a deferred transaction (no write lock
    held while it checks things), then, on the same connection and still in the session's transaction, that
    read transaction is committed and BEGIN IMMEDIATE taken (waiting its turn), so what follows writes as
    usual. Nothing in the block may write. Other databases: one transaction, nothing changes."""
    token = _write_intent.set(False)
    try:
        yield
    finally:
        _write_intent.reset(token)
    if isinstance(session, scoped_session):
        session = session()
    if dialect_name(session) == "sqlite" and session.in_transaction():
        conn = connection(session)
        conn.exec_driver_sql("COMMIT")
        conn.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, _record) -> None:
    if type(dbapi_connection).__module__.split(".")[0] != "sqlite3":
        return
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
    # SQLite's lower() folds ASCII only; casefold() lets name searches match Ö, Ş, Ç, ... as PostgreSQL's lower() does.
    dbapi_connection.create_function("casefold", 1, _casefold, deterministic=True)


def _casefold(value):
    return value.casefold() if isinstance(value, str) else value


def _closed_by_the_server(dbapi_connection, _record, _proxy) -> None:
    """Pool checkout of a psycopg connection: a connection idle in the pool hears nothing from the server unless
    the server is closing it (restart, failover, idle timeout, pg_terminate_backend: its goodbye, then the end of
    the stream). Anything waiting on the socket, seen without a round trip, makes the pool drop this connection
    and hand out another, as pool_pre_ping would, without a SELECT 1 before every transaction."""
    pgconn = dbapi_connection.pgconn
    if pgconn.status != 0 or pgconn.transaction_status != 0:  # ConnStatus.OK, TransactionStatus.IDLE
        raise DisconnectionError("the connection is not usable")
    waiting = select.poll()  # poll, not select: a worker may hold descriptors past select's 1024
    waiting.register(pgconn.socket, select.POLLIN)
    if waiting.poll(0):
        raise DisconnectionError("the server closed the connection")


_IN_TRANSACTION = (2, 3)  # psycopg's TransactionStatus.INTRANS and INERROR


def _rollback_keeping_prepared(conn) -> None:
    """A psycopg connection's rollback, sent here so that the connection keeps its prepared statements.
    psycopg forgets every statement it prepared (and deallocates them on the server) whenever it rolls back,
    in case the transaction created something a statement named. Tinker changes no schema outside migrations,
    and a request that only read ends with a rollback (Flask-SQLAlchemy closes the session): so no statement
    stayed prepared beyond one request, and every one was planned again at each of its next five runs (an award
    on PostgreSQL then cost ~5 ms of server CPU instead of ~1.5 ms). The ROLLBACK is sent through libpq itself,
    so psycopg's rollback, which SQLAlchemy calls next, finds the connection idle and does nothing. If it fails,
    the connection is still in its transaction and psycopg's rollback meets the same trouble and reports it."""
    if conn.closed or conn.invalidated:
        return
    pgconn = conn.connection.dbapi_connection.pgconn
    if pgconn.transaction_status in _IN_TRANSACTION:
        try:
            pgconn.exec_(b"ROLLBACK")
        except Exception:  # noqa: BLE001 -- psycopg's own rollback, next, raises what SQLAlchemy handles
            pass


def watch_connections(engine: Engine) -> None:
    """A psycopg engine's pooled connections are checked at checkout by _closed_by_the_server (config.py turns
    the engine's pre-ping off for psycopg URLs), and roll back keeping their prepared statements
    (_rollback_keeping_prepared)."""
    if engine.dialect.driver != "psycopg":
        return
    for name, listener in (("checkout", _closed_by_the_server), ("rollback", _rollback_keeping_prepared)):
        if not event.contains(engine, name, listener):
            event.listen(engine, name, listener)


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


# --- Portable INSERT ... ON CONFLICT --------------------------------------------------------------
def _insert_for(session, table):
    return insert_for_dialect(dialect_name(session), table)


def insert_for_dialect(name: str, table):
    """INSERT with ON CONFLICT for a dialect named (Hot statements are built per dialect name)."""
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for {name}")


# Built once per (dialect, table, shape) and executed with the row as parameters: building and compiling a
# fresh INSERT ... ON CONFLICT per call cost more than running it (see bench/ledger.py).
_prepared: dict[tuple, Any] = {}


def _prepared_statement(session, key: tuple, build):
    dialect = session.get_bind().dialect.name
    full_key = (dialect, *key)
    stmt = _prepared.get(full_key)
    if stmt is None:
        stmt = _prepared[full_key] = build(_insert_for(session, key[0]))
    return stmt


def insert_ignore(session, table, values: dict[str, Any], conflict: list[str] | None,
                  returning: bool = True, key: str = "id") -> Any:
    """Insert a row unless it would clash with an existing one on the conflict columns (None: on any
    unique constraint); return the new row's `key` column or None (returning=False: nothing)."""
    def build(ins):
        stmt = ins.on_conflict_do_nothing(index_elements=conflict) if conflict else ins.on_conflict_do_nothing()
        return stmt.returning(table.c[key]) if returning else stmt

    stmt = _prepared_statement(session, (table, "ignore", tuple(conflict or ()), returning, key), build)
    if not returning:
        session.execute(stmt, values)
        return None
    return session.execute(stmt, values).scalar_one_or_none()


def upsert_statement(session, table, keys: list[str], increments: list[str], sets: list[str] = ()):
    """INSERT ... ON CONFLICT (keys) DO UPDATE adding `increments` and replacing `sets`, built once."""
    def build(ins):
        update = {name: table.c[name] + ins.excluded[name] for name in increments}
        update.update({name: ins.excluded[name] for name in sets})
        return ins.on_conflict_do_update(index_elements=list(keys), set_=update)

    return _prepared_statement(session, (table, "upsert", tuple(keys), tuple(increments), tuple(sets)), build)


def upsert_increment(
    session, table, keys: dict[str, Any], increments: dict[str, Any], sets: dict[str, Any] | None = None
) -> None:
    """Add to counters of the row named by keys, creating it at the increments when absent."""
    sets = sets or {}
    stmt = upsert_statement(session, table, list(keys), list(increments), list(sets))
    session.execute(stmt, {**keys, **increments, **sets})


SQLITE_CACHE_KIB = 131_072


@contextmanager
def batch_memory(session) -> Iterator[None]:
    """A batch job over the whole ledger (a rebuild) gets the memory of one: on SQLite a 128 MiB page cache for
    its connection (the default 2 MiB made it re-read pages it had just written: ~10% of a rebuild at 200k rows),
    restored afterwards as the connection goes back to the pool; on PostgreSQL work_mem for this transaction
    (SET LOCAL), so its sorts and hash aggregates stay in memory (the default 4 MB spilled the totals' rebuild
    to disk in 21 batches at 240k entries)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")
        yield
        return
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


BULK_BATCH = 20_000


def bulk_insert(session, table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (all with the same keys), BULK_BATCH at a time. On PostgreSQL each batch is one
    INSERT ... SELECT FROM unnest(one array per column), executed once: psycopg's executemany executes the INSERT
    once per row, which cost ~8x as much per row in a rebuild. On SQLite an executemany (a loop in C)."""
    if not rows:
        return
    if dialect_name(session) != "postgresql":
        for start in range(0, len(rows), BULK_BATCH):
            session.execute(table.insert(), rows[start:start + BULK_BATCH])
        return
    from sqlalchemy import ARRAY, bindparam, func, select

    columns = list(rows[0])
    stmt = _prepared.get(("bulk", table, tuple(columns)))
    if stmt is None:
        given = func.unnest(*[bindparam(f"bulk_{c}", type_=ARRAY(table.c[c].type)) for c in columns]).table_valued(
            *columns).render_derived()
        stmt = _prepared[("bulk", table, tuple(columns))] = postgresql.insert(table).from_select(
            columns, select(*[given.c[c] for c in columns]))
    for start in range(0, len(rows), BULK_BATCH):
        batch = rows[start:start + BULK_BATCH]
        session.execute(stmt, {f"bulk_{c}": [row[c] for row in batch] for c in columns})


# --- psycopg: long statements converted once ------------------------------------------------------
def _psycopg_converts_long_statements_once() -> None:
    """psycopg turns a statement's %(name)s placeholders into $n once per statement text, but only for texts of
    at most 4 KB with at most 50 parameters; a longer one is parsed again on every execution. The award path's
    PostgreSQL statement that inserts the experiment and reads the author's facts is ~6.5 KB with 54 parameters:
    parsing it cost more client time than the round trip it saves. Its limits are module settings read on every
    execution (psycopg 3.1 to 3.3); the cache stays bounded (an lru_cache of 128 statements)."""
    try:
        from psycopg import _queries
    except ImportError:
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH") and hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 16384)
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 200)


_psycopg_converts_long_statements_once()


# --- Hot statements --------------------------------------------------------------------------------
def pg_text_array(values) -> str:
    """A sequence of str (None for NULL) as PostgreSQL's array text, every element quoted: '{"a","b"}'. psycopg
    dumps a list element by element in Python: for the ~80 elements an award sends, 9-22% of the award's client
    CPU (measured A/B). This is a join, and the server's array input parses it."""
    values = list(values)
    if not values:
        return "{}"
    try:
        joined = "\x00".join(values)  # NUL never occurs in PostgreSQL text, so it cannot hide a quote here
    except TypeError:  # a None (NULL), or not a str
        joined = None
    if joined is not None and '"' not in joined and "\\" not in joined:
        return '{"' + '","'.join(values) + '"}'
    return "{" + ",".join("NULL" if v is None else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "}"


def pg_int_array(values) -> str:
    """A sequence of int (None for NULL) as PostgreSQL's array text: '{1,2,NULL}' (see pg_text_array)."""
    values = list(values)
    if None in values:
        return "{" + ",".join("NULL" if v is None else str(int(v)) for v in values) + "}"
    return "{" + ",".join(map(str, map(int, values))) + "}"


def _array_text_for(type_, dialect):
    """Hot's processor for a bind of type ARRAY(String) or ARRAY(Integer) (one dimension, items passed as they
    are), in place of SQLAlchemy's (a list() of the value, then psycopg's per-element dump); else None."""
    from sqlalchemy import ARRAY, Integer, String

    if not isinstance(type_, ARRAY) or (type_.dimensions or 1) != 1:
        return None
    item = type_.item_type
    if item.dialect_impl(dialect).bind_processor(dialect) is not None:
        return None
    if isinstance(item, String):
        return pg_text_array
    if isinstance(item, Integer):
        return pg_int_array
    return None


def _numbered(dialect):
    """The dialect compiling bind parameters as PostgreSQL's own $1, $2... (SQLAlchemy's "numeric_dollar"), each
    name one number however often the statement uses it."""
    import copy
    import weakref

    numbered = copy.copy(dialect)
    numbered.paramstyle, numbered.positional = "numeric_dollar", True
    numbered.identifier_preparer = dialect.preparer(numbered)  # no "%" doubled: psycopg will not parse the text
    # Types' processors memoised per dialect: a literal's depends on whether "%" is doubled, so not shared.
    numbered._type_memos = weakref.WeakKeyDictionary()
    return numbered


_RAW_CURSOR: list = []  # psycopg.RawCursor (psycopg >= 3.2), imported on first use: SQLite installs go without psycopg


def _raw_cursor(dbapi_connection):
    if not _RAW_CURSOR:
        from psycopg import RawCursor

        _RAW_CURSOR.append(RawCursor)
    return _RAW_CURSOR[0](dbapi_connection)


def _inline_constants(stmt, dialect):
    """`stmt` with its constants (the value of a literal(), a string or number the statement was built with, as
    " " between columns or a bucket's name) written into its text, as hand-written SQL has them, rather than sent as
    parameters with every execution. Only plain strings and integers whose type converts nothing on the way."""
    from sqlalchemy.sql import visitors
    from sqlalchemy.sql.elements import BindParameter, literal_column

    compiler = dialect.statement_compiler(dialect, None)

    def constant(element):
        if not isinstance(element, BindParameter) or element.required or element.callable is not None \
                or element.expanding or element.literal_execute:
            return None
        value = element.value
        if type(value) not in (str, int) or element.type.dialect_impl(dialect).bind_processor(dialect) is not None:
            return None
        return literal_column(compiler.render_literal_value(value, element.type), type_=element.type)

    return visitors.replacement_traverse(stmt, {}, constant)


class Hot:
    """A Core statement the award path runs on every award, compiled once per dialect and sent straight to
    the session's DBAPI cursor: no per-execution compile-cache lookup, parameter construction or result
    machinery (SQLAlchemy's part was half of an award's time, well above what the database spent).
    PostgreSQL: compiled with $1, $2... and sent as bytes through psycopg's RawCursor, which passes the text on as
    it is. psycopg's own cursor parses %(name)s placeholders out of the text on every execution for a statement
    longer than 4,096 characters (it caches only shorter ones), as the award's two statements are.

    What stays as with session.execute: the transaction (the session's connection; BEGIN IMMEDIATE on SQLite),
    bind types (UTCDateTime and the like convert as usual), before/after_cursor_execute listeners, and errors
    (wrapped as SQLAlchemy's, a lost connection invalidated). What the caller takes on: rows come back as the
    driver gives them (SQLite: dates and timestamps as text, booleans as 0/1), and the session's execute
    hooks do not see the statement: `writes` names the tables it writes, forgotten in the transaction's memo
    (core.memo). Use it only for tables whose writes the data version does not watch (see
    insights/changes.py; tests/services/test_data_version.py checks every Hot statement)."""

    registry: list[Hot] = []

    def __init__(self, build, writes: tuple[str, ...] = ()) -> None:
        self._build = build  # dialect name -> statement (or the statement itself)
        self.writes = writes
        self._touched = frozenset(writes) | {memo.ANY} if writes else None  # what a write forgets (memo.forget)
        self._compiled: dict[str, tuple] = {}
        Hot.registry.append(self)

    def _prepare(self, dialect) -> tuple:
        stmt = self._build(dialect.name) if callable(self._build) else self._build
        postgresql = dialect.name == "postgresql"
        target = _numbered(dialect) if postgresql else dialect
        compiled = _inline_constants(stmt, target).compile(dialect=target)
        processors = dict(compiled._bind_processors)
        if dialect.name == "sqlite":  # UTC timestamps written as SQLite's DATETIME writes them, in one call
            for bind, name in compiled.bind_names.items():
                if isinstance(bind.type, UTCDateTime) and name in processors:
                    processors[name] = sqlite_utc_text
        elif postgresql:  # arrays of text or integers as array text, where the statement casts them
            number = {name: i for i, name in enumerate(compiled.positiontup, 1)}
            for bind, name in compiled.bind_names.items():
                text = _array_text_for(bind.type, dialect)
                if text is not None and f"${number[name]}::" in compiled.string:
                    processors[name] = text
        values = {name: bind.value for bind, name in compiled.bind_names.items()
                  if bind.value is not None and not bind.required}
        names = list(compiled.positiontup) if compiled.positional else list(dict.fromkeys(compiled.bind_names.values()))
        # What _args needs, worked out once: a value for every name (a literal's own, else None; kept only when the
        # statement has literals, else a name not given is NULL), then the params given picked in order by one
        # itemgetter, and the bind processors (UTCDateTime...) of the few that have one.
        defaults = {name: values.get(name) for name in names}
        pick = operator.itemgetter(*names) if len(names) > 1 else (
            (lambda params, _name=names[0]: (params[_name],)) if names else (lambda params: ()))
        process = tuple((i, processors[name]) for i, name in enumerate(names) if processors.get(name) is not None)
        plan = (tuple(names), defaults if values else None, pick, process)
        prepared = (compiled.string, plan, compiled.positional,
                    compiled.string.encode() if postgresql else compiled.string)
        self._compiled[dialect.name] = prepared
        return prepared

    @staticmethod
    def _args(plan, positional: bool, params: dict):
        names, literals, pick, process = plan
        if literals is not None:  # the statement's own literal values, under what the caller gives
            values = pick({**literals, **params})
        else:
            try:  # every name given (an executemany's rows, most awards' statements): no merged dict to build
                values = pick(params)
            except KeyError:  # a name not given is NULL
                values = pick(dict.fromkeys(names) | params)
        if process:
            values = list(values)
            for i, processor in process:
                if values[i] is not None:
                    values[i] = processor(values[i])
            values = tuple(values)
        return values if positional else dict(zip(names, values))

    def execute(self, session, params: dict | None = None, many: list[dict] | None = None):
        """Run with `params` (or once per dict of `many`, as one executemany); returns the DBAPI cursor."""
        if isinstance(session, scoped_session):
            session = session()  # once: connection() and the memo below would each ask the registry again
        conn = connection(session)
        dialect = conn.dialect
        sql, plan, positional, sent = self._compiled.get(dialect.name) or self._prepare(dialect)
        args = [self._args(plan, positional, p) for p in many] if many is not None else self._args(
            plan, positional, params or {})
        dbapi_connection = conn.connection.dbapi_connection
        cursor = _raw_cursor(dbapi_connection) if sent is not sql else dbapi_connection.cursor()
        # Cursor listeners, when there are any (the engine's "begin" listener makes every connection have events,
        # so ask the two lists themselves: an empty one costs a test, not an iteration).
        dispatch = conn.dispatch if conn._has_events or conn.engine._has_events else None
        if dispatch is not None and dispatch.before_cursor_execute:
            for fn in dispatch.before_cursor_execute:
                fn(conn, cursor, sql, args, None, many is not None)
        try:
            if many is not None:
                cursor.executemany(sent, args)
            else:
                cursor.execute(sent, args)
        except dialect.loaded_dbapi.Error as err:
            conn._handle_dbapi_exception(err, sql, args, cursor, None)
        if dispatch is not None and dispatch.after_cursor_execute:
            for fn in dispatch.after_cursor_execute:
                fn(conn, cursor, sql, args, None, many is not None)
        if self._touched is not None:
            memo.forget_touched(session, self._touched)
        return cursor

    def all(self, session, params: dict | None = None) -> list[tuple]:
        return self.execute(session, params).fetchall()

    def sql(self, dialect: str) -> str | None:
        """The SQL text sent for a dialect (None before the statement first ran there)."""
        compiled = self._compiled.get(dialect)
        return None if compiled is None else compiled[0]

    def scalar(self, session, params: dict | None = None):
        row = self.execute(session, params).fetchone()
        return None if row is None else row[0]


class HotByCount:
    """Hot statements of one shape for any number of items (rows, boards), each built on first use:
    `build(dialect, count)` makes the statement and `names(count)` what its callers need to fill it in (its
    parameter names, in their order)."""

    def __init__(self, build, names, writes: tuple[str, ...] = ()) -> None:
        self._build, self._names, self.writes = build, names, writes
        self._by_count: dict[int, tuple] = {}

    def __call__(self, count: int) -> tuple:
        """(the Hot statement for `count` items, names(count))."""
        found = self._by_count.get(count)
        if found is None:
            found = self._by_count[count] = (
                Hot(lambda dialect: self._build(dialect, count), writes=self.writes), self._names(count))
        return found


class HotRows:
    """An INSERT (an upsert, as `finish` makes it) of any number of rows of `columns` into `table`, for SQLite: one
    statement of VALUES (...), (...) per row count, up to CHUNK rows each (HotByCount). SQLite's executemany of as
    many rows cost half as much again, in the database and in the parameters built per row. (PostgreSQL writers
    send theirs as arrays or as an executemany, which psycopg pipelines.)"""

    CHUNK = 64

    def __init__(self, table, columns: tuple[str, ...], finish, writes: tuple[str, ...]) -> None:
        def build(dialect: str, count: int):
            return finish(insert_for_dialect(dialect, table).values([
                {c: bindparam(f"{c}_{i}", type_=table.c[c].type) for c in columns} for i in range(count)]))

        self._statements = HotByCount(build, lambda count: [f"{c}_{i}" for i in range(count) for c in columns],
                                      writes)

    def execute(self, session, rows: list[tuple]) -> None:
        """Insert `rows`, each a tuple of values in the order of `columns`, in the order given."""
        for start in range(0, len(rows), self.CHUNK):
            chunk = rows[start:start + self.CHUNK]
            hot, names = self._statements(len(chunk))
            hot.execute(session, dict(zip(names, [value for row in chunk for value in row])))


_CONNECTION = "tinker_connection"


def connection(session):
    """session.connection(), kept for the transaction (asking the scoped session, then Flask-SQLAlchemy, for
    the bind on every statement of an award cost more than some of the statements)."""
    if isinstance(session, scoped_session):
        session = session()
    transaction = session.get_transaction()
    kept = session.info.get(_CONNECTION)
    if kept is not None and transaction is not None and kept[0] is transaction and not kept[1].closed \
            and not kept[1].invalidated:
        return kept[1]
    conn = session.connection()
    session.info[_CONNECTION] = (session.get_transaction(), conn)
    return conn


def dialect_name(session) -> str:
    """The session's database dialect ("sqlite", "postgresql"), without asking for its bind each time."""
    if isinstance(session, scoped_session):
        session = session()
    name = session.info.get("tinker_dialect")
    if name is None:
        name = session.info["tinker_dialect"] = session.get_bind().dialect.name
    return name


_READS: dict[tuple, tuple[str, tuple[str, ...] | None]] = {}


def read(session, statement, params: dict[str, Any]):
    """Run a read-only statement on the session's connection, in its transaction, past the ORM's execute path
    (its events and bind lookup); unlike Hot, any statement, and a Result back. A textual statement (no
    expanding parameters) goes as
    the driver's own SQL, compiled once per dialect, past the compile-cache lookup and parameter processing
    too (its columns come back as the driver gives them). 20-40 µs less per statement than session.execute,
    which the pages' reads, a few dozen rows each, notice. Engine events still see it. Never for writes (the
    memo, core.memo, and the data-change notes, insights.changes, watch the ORM's executes), nor for selects
    of ORM entities."""
    conn = connection(session)  # the transaction's connection, kept
    if not isinstance(statement, TextClause):
        return conn.execute(statement, params)
    key = (statement, conn.dialect.name)
    compiled = _READS.get(key)
    if compiled is None:
        built = statement.compile(dialect=conn.dialect)
        if any(bind.expanding for bind in built.binds.values()):
            raise ValueError("read(): a textual statement with an expanding (IN) parameter needs session.execute")
        compiled = _READS[key] = (built.string, tuple(built.positiontup) if built.positional else None)
    sql, positions = compiled
    return conn.exec_driver_sql(sql, tuple(params[name] for name in positions) if positions else params)
