"""A throwaway PostgreSQL cluster for the test run (Debian's server binaries; initdb refuses root,
so as root the cluster runs as the `postgres` user)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def _bin_dir() -> str:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql "
                           "(make test does this as root), or set TINKER_TEST_POSTGRES_URL")
    return os.path.dirname(candidates[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    """durable=True: a commit is acknowledged only once its WAL is written, so the server process crashing
    (pg_ctl -m immediate) loses nothing acknowledged; fsync stays off (the machine itself never crashes here).
    The default trades that for speed, as a test database can."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.bin = _bin_dir()
        self.root = tempfile.mkdtemp(prefix="tinker-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o755)

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> str:
        self._run(f"{self.bin}/initdb", "-D", self.data, "-U", "tinker", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        self._start()
        return f"postgresql+psycopg://tinker@127.0.0.1:{self.port}/postgres"

    def _start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                f"-c synchronous_commit={'on' if self.durable else 'off'} -c full_page_writes=off "
                "-c max_connections=200")
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-o", opts, "-l", os.path.join(self.root, "log"),
                  "-w", "start")

    def crash(self) -> None:
        """Stop at once, as a crash or a failover does: open connections are cut, nothing is flushed nicely."""
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")

    def start_again(self) -> None:
        self._start()

    def stop(self) -> None:
        try:
            self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.1)
        shutil.rmtree(self.root, ignore_errors=True)


def create_database(admin_url: str, name: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        # WITH (FORCE): a previous user (an in-process bench's connection pool) may still hold a session (PG 13+).
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name
