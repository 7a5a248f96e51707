"""The leaderboard bench's own temporary database: a SQLite file in a temp dir, a throwaway PostgreSQL cluster
(tests/support/pg.py, Debian's binaries), or a fresh database on an existing PostgreSQL server."""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile


def normalise(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class TempDatabase:
    """`spec`: "sqlite", "postgresql" (throwaway cluster), or a postgresql://... URL of a server on which a
    database named tinker_bench_<hex> is created and dropped again."""

    def __init__(self, spec: str, keep: bool = False) -> None:
        self.spec = spec
        self.keep = keep
        self.tmp = tempfile.mkdtemp(prefix="tinker-bench-lb-")
        self.cluster = None
        self.admin_url: str | None = None
        self.name: str | None = None
        self.url = ""
        self.note = ""

    @property
    def kind(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def __enter__(self) -> TempDatabase:
        from tests.support.pg import ThrowawayPostgres, create_database

        if self.spec == "sqlite":
            self.url = f"sqlite:///{self.tmp}/leaderboard.db"
            self.note = f"SQLite file in {self.tmp}"
        elif self.spec.startswith("sqlite:///"):
            path = self.spec[len("sqlite:///"):]
            if os.path.exists(path):
                raise SystemExit(f"{path} exists: the bench loads its own data into a new file")
            self.url = self.spec
            self.note = f"SQLite file {path}"
        elif self.spec == "postgresql":
            self.cluster = ThrowawayPostgres()
            self.admin_url = self.cluster.start()
            self._tune_for_bulk_load()
            self.name = "tinker_bench"
            self.url = create_database(self.admin_url, self.name)
            self.note = (f"throwaway PostgreSQL cluster on port {self.cluster.port} (tests/support/pg.py: fsync off, "
                         "default shared_buffers; max_wal_size raised for the bulk load)")
        elif self.spec.startswith(("postgresql", "postgres:")):
            self.admin_url = normalise(self.spec)
            self.name = f"tinker_bench_{secrets.token_hex(4)}"
            self.url = create_database(self.admin_url, self.name)
            self.note = f"database {self.name} on {self.admin_url.rsplit('@', 1)[-1].rsplit('/', 1)[0]}"
        else:
            raise SystemExit(f"--db: use sqlite, postgresql or a postgresql:// URL, not {self.spec!r}")
        return self

    def _tune_for_bulk_load(self) -> None:
        import sqlalchemy as sa

        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for setting in ("max_wal_size = '8GB'", "maintenance_work_mem = '512MB'", "checkpoint_timeout = '30min'"):
                conn.execute(sa.text(f"ALTER SYSTEM SET {setting}"))
            conn.execute(sa.text("SELECT pg_reload_conf()"))
        engine.dispose()

    def __exit__(self, *exc) -> None:
        if self.keep:
            print(f"kept: {self.url}")
            return
        if self.cluster is not None:
            self.cluster.stop()
        elif self.admin_url and self.name:
            import sqlalchemy as sa

            engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            engine.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)


def analyze(url: str) -> bool:
    """PostgreSQL: ANALYZE the database, as autovacuum keeps a running deployment's statistics current (True if
    done). A bench starts on a database it just created: the plans its connections make in the first minute come
    from tables with no statistics, and autovacuum needs a minute or more to catch up. Such a plan read a course's
    recent experiments through the course's index, and kept doing so until autovacuum's first ANALYZE of the
    table, most of a short run (bench/writers.py's single writer fell from 200 to 70-100 awards/s between its first
    and its later rounds, its server CPU per award from 2.6 to 7.3 ms). An ANALYZE after an untimed warm-up replans every prepared statement (its invalidation reaches
    the other connections). SQLite: nothing (a deployment's SQLite file is never analyzed either)."""
    if not url.startswith(("postgresql", "postgres:")):
        return False
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))
    finally:
        engine.dispose()
    return True
