"""A real LRS for the xAPI tests: Ralph (PyPI `ralph-malph`, FastAPI) with its filesystem backend, in a
virtualenv of its own (its pins conflict with Flask's) and served as a separate process on a free port.

One server per test session (per xdist worker); each test gets a Basic-auth user of its own whose
statements go to a store of their own, so tests never see each other's statements.
"""
from __future__ import annotations

import fcntl
import itertools
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

RALPH = ("ralph-malph[lrs]==5.1.0", "requests")  # Ralph's OIDC module imports requests without requiring it
HERE = Path(__file__).resolve().parent
USERS = 40  # stores handed out to tests, per server
VERSION_HEADER = {"X-Experience-API-Version": "1.0.3"}


def _venv_root() -> Path:
    return Path(os.environ.get("TINKER_RALPH_VENV") or Path.home() / ".cache" / "tinker" / "ralph-venv")


def build_venv() -> Path:
    """Ralph's virtualenv, built once per machine (a lock keeps parallel workers from building it twice)."""
    root = _venv_root()
    python, marker, wanted = root / "bin" / "python", root / ".ready", " ".join(RALPH)
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.exists() and marker.read_text() == wanted and python.exists()):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True, capture_output=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", *RALPH], check=True, capture_output=True,
                           timeout=1200)
            marker.write_text(wanted)
    return python


@pytest.fixture(scope="session")
def ralph_python() -> Path:
    try:
        return build_venv()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        message = f"could not install Ralph (the test LRS): {exc} {stderr.decode(errors='replace')[-800:]}"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI can reach PyPI: a missing LRS is a failure there, never a skip
        pytest.skip(message)


@dataclass
class Lrs:
    """One test's view of the LRS: its endpoint and credentials, and reads through the xAPI API."""

    endpoint: str  # what an admin types into Tinker: the xAPI base, to which /statements is appended
    key: str
    secret: str

    def get(self, **params) -> requests.Response:
        return requests.get(f"{self.endpoint}/statements", params=params, auth=(self.key, self.secret),
                            headers=VERSION_HEADER, timeout=10)

    def statements(self, **params) -> list[dict]:
        response = self.get(limit=500, **params)
        assert response.status_code == 200, response.text
        return response.json()["statements"]

    def statement(self, statement_id: str) -> dict | None:
        """GET ?statementId=: xAPI answers the statement itself (404 when unknown); Ralph 5.1 answers a
        StatementResult holding it (empty when unknown). Both are read."""
        response = self.get(statementId=statement_id)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        body = response.json()
        if "statements" in body:
            assert len(body["statements"]) <= 1, body
            return body["statements"][0] if body["statements"] else None
        return body


@dataclass
class RalphServer:
    base: str
    password: str
    users: itertools.count
    log: Path

    def next_lrs(self) -> Lrs:
        n = next(self.users)
        if n >= USERS:
            raise RuntimeError(f"more than {USERS} xAPI tests in one session: raise USERS in tests/xapi/conftest.py")
        return Lrs(endpoint=f"{self.base}/xAPI", key=f"tinker{n}", secret=self.password)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ralph_server(ralph_python, tmp_path_factory):
    data = tmp_path_factory.mktemp("ralph")
    port, password = _free_port(), secrets.token_hex(12)
    log = data / "server.log"
    with open(log, "wb") as out:
        # cwd: Ralph reads a .env from its working directory; this one has none.
        process = subprocess.Popen([str(ralph_python), str(HERE / "ralph_server.py"), str(port), str(data / "lrs"),
                                    password, *(f"tinker{n}" for n in range(USERS))],
                                   stdout=out, stderr=subprocess.STDOUT, cwd=data)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"Ralph exited with {process.returncode}: {log.read_text()[-2000:]}")
            try:
                if requests.get(f"{base}/__heartbeat__", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Ralph did not start within 90 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield RalphServer(base=base, password=password, users=itertools.count(), log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def lrs(ralph_server) -> Lrs:
    """A store of this test's own on the shared Ralph server."""
    return ralph_server.next_lrs()


@pytest.fixture(scope="session")
def ralph_validate(ralph_python):
    """validate([statement, ...]) -> [[error, ...], ...]: Ralph's pydantic models of xAPI 1.0.3 judge each."""

    def validate(statements: list[dict]) -> list[list[str]]:
        done = subprocess.run([str(ralph_python), str(HERE / "ralph_validate.py")], input=json.dumps(statements),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    return validate
