"""bench/_server_cpu.py: the benches' reading of the CPU a local PostgreSQL server process spent for them (what
bench/ledger.py and bench/writers.py print beside the client's own CPU)."""
from __future__ import annotations

import sqlalchemy as sa

from bench._server_cpu import cpu_seconds, server_pid
from plugin.extensions import db


def test_the_server_process_behind_the_connection_is_found_and_its_work_counted(appctx, db_kind):
    pid = server_pid(db.session)
    if db_kind == "sqlite":
        assert pid is None  # no server process: the client's CPU is all of it
        return
    assert pid == db.session.scalar(sa.text("SELECT pg_backend_pid()"))
    before = cpu_seconds(pid)
    # Work only the server does: ~0.1-0.5 s of CPU there, while this process waits.
    db.session.scalar(sa.text("SELECT count(*) FROM generate_series(1, 3000000) AS s(i) WHERE i % 7 = 3"))
    assert cpu_seconds(pid) - before >= 0.02  # at least two clock ticks


def test_a_process_that_is_gone_has_no_cpu_figure():
    assert cpu_seconds(None) is None
    assert cpu_seconds(2**22 + 12345) is None  # above the kernel's largest pid: no such process
