"""Schemathesis against the live OpenAPI document of a real server: every operation, every check, both kinds
of credential; no 5xx and every response as the document says."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import issue_token

SCOPES = ["insights:read", "ledger:read", "awards:write"]
MAX_EXAMPLES = os.environ.get("TINKER_SCHEMATHESIS_EXAMPLES", "15")


def _run(live_server, credential: str, tmp_path: Path, label: str) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).with_name("schemathesis")
    report = tmp_path / f"{label}.junit.xml"
    return subprocess.run(
        [str(cli), "run", f"{live_server.base_url}/api/v1/openapi.json", "--checks", "all", "--exclude-checks", "positive_data_acceptance",
         "--header", f"Authorization: Bearer {credential}", "--max-examples", MAX_EXAMPLES, "--seed", "1",
         "--generation-database", "none", "--no-color", "--workers", "1", "--request-timeout", "20",
         "--report", "junit", "--report-junit-path", str(report)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"})


@pytest.mark.parametrize("who", ["admin", "api_token"])
def test_schemathesis_finds_no_5xx_and_no_nonconforming_response(live_server, app, world, tmp_path, who,
                                                                  monkeypatch):
    monkeypatch.setitem(live_server.config, "API_RATE_LIMIT", 100_000)  # thousands of calls in a minute
    credential = world.callers["admin"] if who == "admin" else issue_token(app, world.organisation_id, SCOPES)
    result = _run(live_server, credential, tmp_path, who)
    assert result.returncode == 0, result.stdout[-15000:] + result.stderr[-3000:]
