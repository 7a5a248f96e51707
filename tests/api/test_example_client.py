"""docs/examples/api_client.py, run as an external process against a live server with only an API token."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import bearer, issue_token, make_team

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "api_client.py"


def _team(app, course_id: int, name: str, user_ids: list[int]) -> None:
    make_team(app, course_id, name, user_ids)


def _run(live_server, token: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--base", live_server.base_url, "--token", token, *args],
                          capture_output=True, text=True, timeout=120)


def test_script_exports_a_team_insights_and_awards_a_badge(live_server, app, client, world, tmp_path):
    _team(app, world.course_id, "Blue team", list(world.learners.values()))
    token = issue_token(app, world.organisation_id, ["insights:read", "awards:write"])
    out = tmp_path / "insights.json"
    receiver = world.learners["l2"]
    result = _run(live_server, token, "--team", "Blue team", "--out", str(out), "--award-to", str(receiver),
                  "--comment", "Ran the team's first prompt clinic")
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["team"] == "Blue team" and report["course_id"] == world.course_id
    assert {"adoption", "summary", "hours-by-team"} <= set(report["tables"])
    awards = client.get(f"/api/v1/courses/{world.course_id}/awards", query_string={"user_id": receiver},
                        headers=bearer(world.callers["manager"])).get_json()["items"]
    assert [a["comment"] for a in awards] == ["Ran the team's first prompt clinic"]
    again = _run(live_server, token, "--team", "Blue team", "--out", str(out), "--award-to", str(receiver))
    assert again.returncode == 0 and "already holds" in again.stderr


def test_script_reports_a_missing_scope_in_the_envelope_words(live_server, app, world):
    _team(app, world.course_id, "Blue team", [])
    token = issue_token(app, world.organisation_id, ["ledger:read"])
    result = _run(live_server, token, "--team", "Blue team")
    assert result.returncode == 1
    assert "403 forbidden" in result.stderr and "lacks the scope" in result.stderr
