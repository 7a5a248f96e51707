"""The CPU time a PostgreSQL server process spent for one of the bench's connections, read from /proc.

On PostgreSQL a bench's own CPU time (time.process_time) is only the client's half of the work: the server
process serving its connection parses, plans, executes and commits. Both halves run on the same few cores here,
so what a writer costs the machine, and so how far more writers can scale, is the sum. Read only when the server
runs on this machine: the connection goes to a loopback address or a Unix socket and /proc/<pid> is a postgres
process (a pid from a server elsewhere would name some unrelated local process)."""
from __future__ import annotations

import os

_LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost", "")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def server_pid(session) -> int | None:
    """The pid of the server process behind the session's connection, when that process is on this machine."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    dbapi = session.connection().connection.dbapi_connection
    info = getattr(dbapi, "info", None)
    if info is None:
        return None
    host = info.host or ""
    if not (host in _LOCAL_HOSTS or host.startswith("/")):
        return None
    pid = info.backend_pid
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if not f.read().startswith(b"postgres"):
                return None
    except OSError:
        return None
    return pid


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of process `pid` so far (None: no pid, or the process is gone)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime and stime, after the state field


class ServerCpu:
    """The CPU seconds the server process behind `session`'s connection spends from now on. The caller ends the
    transaction the reading began, as it ends its own."""

    def __init__(self, session) -> None:
        self.pid = server_pid(session)
        self.start = cpu_seconds(self.pid)

    def spent(self, session) -> float | None:
        """None: not readable (no local server), or the pool gave the session another connection meanwhile."""
        if self.start is None:
            return None
        same = server_pid(session) == self.pid
        end = cpu_seconds(self.pid)
        return end - self.start if same and end is not None else None
