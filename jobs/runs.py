"""Which process runs a job, its heartbeat, and marking runs whose process is gone as abandoned."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from store import job_runs
from store.db import transaction
from store.job_runs import Owner
from store.models import JobRun

log = logging.getLogger("rollcall.jobs")

Clock = Callable[[], datetime]
HEARTBEAT_INTERVAL = timedelta(seconds=30)
# Twenty missed heartbeats: a run on another host (whose process cannot be looked up) or whose
# pid was reused is abandoned after this long without a sign of life.
STALE_AFTER = timedelta(minutes=10)
_PROC = Path("/proc")


def _process_token(pid: int) -> str | None:
    """Linux: "<boot id>/<start time in clock ticks>" of process ``pid``, unique across pid reuse
    and reboots; "zombie" for a process that has exited but was not reaped. None elsewhere."""
    try:
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3
    if fields[0] == "Z":
        return "zombie"
    return f"{boot}/{fields[19]}"  # field 22: starttime


def current_owner() -> Owner:
    """This process, as the owner of a run."""
    pid = os.getpid()
    return Owner(host=socket.gethostname(), pid=pid, token=_process_token(pid))


def process_gone(owner: Owner) -> bool | None:
    """Whether ``owner`` has certainly ended: True or False on its own host, None elsewhere."""
    if owner.host != socket.gethostname():
        return None
    try:
        os.kill(owner.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    now_token = _process_token(owner.pid)
    if now_token == "zombie":
        return True
    return owner.token is not None and now_token is not None and now_token != owner.token


def abandoned_reason(run: JobRun, *, now: datetime, stale_after: timedelta) -> str | None:
    """Why a running ``run`` is abandoned, or None while it may still be alive.

    Abandoned when its owner process is known to have ended (same host: the pid is gone, a
    zombie, or now another process), or when its last heartbeat (its start, for runs recorded
    without one) is older than ``stale_after``.
    """
    if run.owner_host is not None and run.owner_pid is not None:
        owner = Owner(run.owner_host, int(run.owner_pid), run.owner_token)
        if process_gone(owner):
            return f"abandoned: its process {owner.host}:{owner.pid} has ended"
    last = run.heartbeat_at or run.started_at
    if now - last > stale_after:
        return (
            f"abandoned: no heartbeat since {last.astimezone(UTC).isoformat()} "
            f"(stale after {int(stale_after.total_seconds())} s)"
        )
    return None


def reap_abandoned(
    factory: sessionmaker[Session], *, now: datetime, stale_after: timedelta = STALE_AFTER
) -> list[int]:
    """Mark every running run whose process is gone (see abandoned_reason) as ``abandoned``, in
    one transaction; returns their run ids. A run that finishes meanwhile keeps its outcome."""
    marked: list[int] = []
    with transaction(factory) as session:
        for run in job_runs.running_runs(session):
            reason = abandoned_reason(run, now=now, stale_after=stale_after)
            if reason is not None and job_runs.mark_abandoned(
                session, int(run.run_id), now=now, reason=reason
            ):
                marked.append(int(run.run_id))
    return marked


class Heartbeat:
    """A daemon thread that moves a run's heartbeat to ``clock()`` every ``interval``, each beat
    its own short transaction. A failed beat is logged (type only) and the next one tried."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        run_id: int,
        *,
        clock: Clock,
        interval: timedelta = HEARTBEAT_INTERVAL,
    ) -> None:
        self._factory = factory
        self._run_id = run_id
        self._clock = clock
        self._interval = interval.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def start(self) -> Heartbeat:
        """Start beating; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and wait for the thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with transaction(self._factory) as session:
                    job_runs.beat(session, self._run_id, now=self._clock())
            except Exception as exc:  # noqa: BLE001 - the job goes on; staleness shows the gap
                log.warning(
                    "heartbeat failed",
                    extra={"run_id": self._run_id, "error_type": type(exc).__name__},
                )
