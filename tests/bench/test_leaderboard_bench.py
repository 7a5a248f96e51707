"""Smoke test of bench/leaderboard.py at tiny sizes: it must load its data, serve the real pages under
gunicorn and time them, so the bench can never silently time an error page. No timing is asserted."""
import re

import pytest

from bench import leaderboard

TINY = ["--learners", "120", "--teams", "6", "--rows", "1500,3000", "--rounds", "2", "--warmup", "1",
        "--b6-rounds", "1", "--burst", "40", "--b12-rounds", "1"]


@pytest.fixture
def bench_db(db_kind, request) -> str:
    if db_kind == "sqlite":
        return "sqlite"
    # The suite's PostgreSQL server: the bench creates (and drops) a database of its own on it.
    return request.getfixturevalue("db_url").rsplit("/", 1)[0] + "/postgres"


def test_the_bench_times_real_pages_and_ends_with_a_result_line(bench_db, capsys):
    report = leaderboard.run([*TINY, "--db", bench_db])
    out = capsys.readouterr().out
    assert re.fullmatch(r"RESULT max_ratio=\d+\.\d\d growth=\d+\.\d\d b12=\d+\.\d\d", out.strip().splitlines()[-1])
    assert "B12 rebuild-aggregates into empty tables" in out and report.b12 is not None  # B12's rounds ran to the end
    assert "B12 rebuild-aggregates over the previous stage's rows, the stage's own" in out and " and 1 more: median " in out

    median = report.checks[leaderboard.MEDIAN_PAGE]
    assert median.status == 200 and median.found, median.note
    assert median.viewer.startswith("Learner ") and median.viewer in median.body
    assert report.checks[leaderboard.BARE].status == 200
    for name, check in report.checks.items():
        assert check.status == 200 and check.found, (name, check.status, check.note)
    assert len(report.stages) == 2 and leaderboard.MEDIAN_PAGE in report.stages[-1]
