"""A real `rollcall serve` process on a free loopback port, for tests that need uvicorn's workers
or a server they can kill."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROLLCALL = str(Path(sys.executable).with_name("rollcall"))
SECRET = "rollcall-test-secret-0123456789abcdef"
# Workers import Polars, H3 and GeoAlchemy: seconds each on a busy two-core machine.
START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running server: its process, base URL and what it printed on stderr (a file)."""

    proc: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole process group (the supervisor and its workers) and wait."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM (uvicorn's graceful stop), then SIGKILL after 20 s."""
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


def start_server(url: str, log: Path, *, workers: int = 1, port: int | None = None) -> Served:
    """``rollcall serve`` on ``url``'s database, ready (``/healthz`` answers) before returning.

    Runs in its own process group so that a kill reaches every worker."""
    port = port or free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    environ.update(
        ROLLCALL_DATABASE_URL=url, ROLLCALL_JWT_SECRET=SECRET, ROLLCALL_LOG_LEVEL="WARNING"
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [ROLLCALL, "serve", "--port", str(port), "--workers", str(workers)],
            env=environ,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    served = Served(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rollcall serve ended: {log.read_text()[-800:]}")
        try:
            if httpx.get(f"{served.base_url}/healthz", timeout=2).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    served.kill()
    raise RuntimeError(f"rollcall serve did not answer in {START_TIMEOUT_S:.0f} s")


@contextmanager
def served(url: str, log: Path, *, workers: int = 1) -> Iterator[Served]:
    """A server for the block, stopped afterwards."""
    server = start_server(url, log, workers=workers)
    try:
        yield server
    finally:
        server.stop()
