"""HTTP side of the leaderboard bench: gunicorn serving bench._app on a free loopback port, a keep-alive
client, and per-request latencies taken in interleaved rounds (so machine noise hits every scenario alike)."""
from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with sync workers (as ../shared/BENCH.md measured its floors), started and stopped by pid."""

    def __init__(self, database_url: str, secret: str, log_dir: str, workers: int = 2,
                 env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(log_dir, f"gunicorn-{self.port}.log")
        env = {**os.environ, "TINKER_BENCH_DATABASE_URL": database_url, "TINKER_BENCH_SECRET": secret,
               "TINKER_BENCH_BASE_URL": self.base, "PYTHONPATH": ROOT, **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--chdir", ROOT, "--workers", str(workers), "--threads", "1",
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "--error-logfile", self.log,
             "--timeout", "120", "bench._app:serve()"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def wait(self, probe: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        client = Client(self.port)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log}:\n{self.tail()}")
            try:
                if client.get(probe)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer {probe} within {timeout:.0f}s; see {self.log}")

    def tail(self) -> str:
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # the master stops its workers
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """One connection reused while the server keeps it open (sync workers close after each response; then
    the next request reconnects, for pages and the bare endpoint alike)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str) -> tuple[int, bytes, float]:
        start = time.perf_counter()
        try:
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            body = response.read()
        except (http.client.HTTPException, ConnectionError):
            self.conn.close()  # a stale kept-alive socket: retry once on a fresh one
            start = time.perf_counter()
            self.conn.request("GET", path)
            response = self.conn.getresponse()
            body = response.read()
        return response.status, body, time.perf_counter() - start


@dataclass
class Latencies:
    values: list[float]  # seconds

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p95(self) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]

    def describe(self) -> str:
        return (f"median {self.median * 1e3:7.2f} ms  p95 {self.p95 * 1e3:7.2f} ms  "
                f"(min {min(self.values) * 1e3:.2f}, max {max(self.values) * 1e3:.2f})")


def interleaved_requests(client: Client, paths: dict[str, str], rounds: int, warmup: int) -> dict[str, Latencies]:
    """Request every path once per round, rotating the order each round; errors stop the bench."""
    names = list(paths)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            status, _body, seconds = client.get(paths[name])
            if status != 200:
                raise RuntimeError(f"{name}: HTTP {status} during timing ({paths[name]})")
            if r >= warmup:
                out[name].append(seconds)
    return {name: Latencies(values) for name, values in out.items()}


def interleaved_calls(calls: dict[str, callable], rounds: int, per_round: int) -> dict[str, Latencies]:
    """In-process: `per_round` timed calls of each scenario per round, rotating the order each round."""
    names = list(calls)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            fn = calls[name]
            for _ in range(per_round):
                start = time.perf_counter()
                fn()
                out[name].append(time.perf_counter() - start)
    return {name: Latencies(values) for name, values in out.items()}
