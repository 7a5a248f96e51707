"""Smoke runs of the other benchmarks at tiny sizes, so none of them rots: each must run end to end against
the real app and end with its `RESULT key=value ...` line. No timing or ratio is asserted; what is asserted
is behaviour the figures rest on (the same award key x50 leaves one ledger row; the load run's people all
launch and get no error; every timed launch left a launch session; concurrent writers see no error and their
books agree with the ledger)."""
from __future__ import annotations

import os
import re

import pytest

from bench import launch as launch_bench
from bench import launch_profile, ledger, lti_crypto, writers
from bench import load as load_bench


def _result(out: str) -> dict[str, str]:
    last = out.strip().splitlines()[-1]
    assert last.startswith("RESULT "), last
    return dict(pair.split("=", 1) for pair in last.split()[1:])


@pytest.fixture
def bench_database(db_kind, request) -> str:
    """sqlite, or a database of its own on the suite's PostgreSQL server (never the tests' database)."""
    if db_kind == "sqlite":
        return "sqlite"
    from tests.support.pg import create_database

    admin = request.getfixturevalue("db_url").rsplit("/", 1)[0] + "/postgres"
    return create_database(admin, f"tinker_bench_smoke_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}")


def test_the_crypto_bench_runs_and_reports(capsys):
    lti_crypto.main(["--rounds", "1", "--seconds", "0.05"])
    result = _result(capsys.readouterr().out)
    assert re.fullmatch(r"\d+\.\d\d", result["b1_ratio"]) and re.fullmatch(r"\d+\.\d\d", result["b2_ratio"])


def test_the_award_bench_runs_and_the_same_key_leaves_one_row(bench_database, capsys):
    args = ["--awards", "5", "--rounds", "1", "--same-key", "50", "--clients", "2", "--client-seconds", "0.5"]
    if bench_database != "sqlite":
        args += ["--database-url", bench_database]
    ledger.main(args)
    out = capsys.readouterr().out
    result = _result(out)
    assert result["b11_rows"] == "1"
    assert float(result["awards_per_s"]) > 0 and float(result["floor_per_s"]) > 0
    # B7's floor of the same inserts writes what the award path writes: the same rows in every table it touches.
    assert result["same_rows"] == "1" and float(result["same_writes_per_s"]) > 0, out[-3000:]
    # Two writer processes awarded through the services, and ran both floors, with no error reaching them.
    assert result["b7_clients"] == "2" and result["clients_errors"] == "0", out[-2000:]
    assert float(result["clients_awards_per_s"]) > 0 and float(result["clients_floor_per_s"]) > 0
    assert float(result["clients_same_writes_per_s"]) > 0
    # What an iteration cost the writers (and their server processes, where readable) on each side.
    cpu = re.search(r"^CPU per iteration, 2 clients: award [\d,]+ us(?P<server> \+ server)?.*$", out, re.M)
    assert cpu, out[-2000:]
    assert ("b7_clients_cpu_ratio" in result) == bool(cpu.group("server")), cpu.group(0)


def test_the_load_bench_launches_everyone_and_sees_no_error(db_kind, request, capsys):
    database = "sqlite" if db_kind == "sqlite" else request.getfixturevalue("db_url").rsplit("/", 1)[0] + "/postgres"
    code = load_bench.main(["--users", "3", "--seconds", "4", "--workers", "1", "--courses", "1", "--db", database,
                            "--warmup", "1"])
    out = capsys.readouterr().out
    result = _result(out)
    assert result["errors"] == "0" and code == 0, out[-2000:]
    launches = int(re.search(r"^launch\s+(\d+)", out, re.M).group(1))
    assert launches >= 6  # three people, each a login and a launch POST
    # PostgreSQL: other people warmed it up first (their errors would count), then it was analyzed.
    assert ("then ANALYZE" in out) == (db_kind == "postgresql")


def test_the_launch_bench_launches_without_error_and_every_launch_leaves_a_session(db_kind, request, capsys):
    database = "sqlite" if db_kind == "sqlite" else request.getfixturevalue("db_url").rsplit("/", 1)[0] + "/postgres"
    launch_bench.main(["--rounds", "1", "--seconds", "0.5", "--learners", "3", "--clients", "2", "--workers", "1",
                       "--db", database])
    out = capsys.readouterr().out
    result = _result(out)
    assert result["errors"] == "0", out[-2000:]
    assert int(result["launches"]) > 3  # the three warm-up launches and the timed ones
    assert result["sessions"] == result["launches"]  # each launch really started a launch session
    assert float(result["floor_per_s"]) > 0


def test_the_launch_profile_runs_returning_launches_and_counts_their_statements(db_kind, request, capsys):
    database = "sqlite" if db_kind == "sqlite" else request.getfixturevalue("db_url").rsplit("/", 1)[0] + "/postgres"
    launch_profile.main(["--launches", "3", "--learners", "2", "--db", database])
    out = capsys.readouterr().out
    result = _result(out)
    assert int(result["login_statements"]) > 0 and int(result["launch_statements"]) > 0, out[-2000:]
    assert float(result["project_ms"]) > 0 and float(result["floor_ms"]) > 0


def test_the_writers_bench_sees_no_error_and_the_books_agree(bench_database, capsys):
    args = ["--rounds", "1", "--seconds", "0.5", "--writers", "2"]
    if bench_database != "sqlite":
        args += ["--database-url", bench_database]
    writers.main(args)
    out = capsys.readouterr().out
    result = _result(out)
    assert result["b8_errors"] == "0" and result["b9_errors"] == "0", out[-2000:]
    assert int(result["b9_awards"]) > 0
    assert result["b9_experiments"] == result["b9_awards"]  # every award a caller saw succeed is there, once
    assert result["b9_books"] == "ok"  # totals and board/team aggregates equal a rebuild from the ledger
    assert float(result["b8_floor_ratio"]) > 0  # the floor's writers ran beside the awards' (no error: b8_errors)
    if bench_database != "sqlite":  # the suite's server runs here: what an award costs both processes is read
        assert re.search(r"CPU per award, 1 writer +client +[\d,]+ us \+ server +[\d,]+ us", out), out[-2000:]
        assert 0 < float(result["b8_cpu_ceiling"]) <= 2  # never more than the writers there are


def test_the_fault_bench_sees_clean_503s_a_recovery_and_every_receipt_stored_once(db_kind, capsys):
    if db_kind != "postgresql":
        pytest.skip("the fault bench crashes a PostgreSQL cluster of its own")
    from bench import fault

    code = fault.main(["--users", "4", "--seconds", "10", "--crash-at", "4", "--down", "2", "--workers", "1",
                       "--courses", "1"])
    out = capsys.readouterr().out
    result = _result(out)
    assert result["ok"] == "1" and code == 0, out[-3000:]
    assert int(result["outage_503"]) > 0 and int(result["receipts"]) > 0
    assert result["missing"] == result["doubled"] == result["strays"] == "0" and result["ledger"] == "ok"
