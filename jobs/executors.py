"""Where a day's officer partitions run: in this process (threads) or on a Dask cluster."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from geo.index import StationIndex
from jobs.compute import PartResult, compute_part, merge_parts, split_by_officer
from rules.policy import Policy
from store.dayload import DayFrames


class Executor(Protocol):
    """Runs one day's computation, possibly split by officer; the result is the same either way."""

    # Officer partitions this executor wants a day split into at least (to use its workers).
    min_parts: int

    def run_day(self, frames: DayFrames) -> PartResult:
        """The merged result of every officer partition of ``frames``."""
        ...

    def run_parts(self, parts: Iterable[DayFrames]) -> PartResult:
        """The merged result of officer partitions of one day, taken as ``parts`` yields them."""
        ...

    def close(self) -> None:
        """Release workers or connections."""
        ...


class LocalExecutor:
    """In-process: one partition uses Polars' own threads; ``workers`` > 1 runs that many officer
    partitions concurrently on threads (Polars releases the GIL)."""

    def __init__(self, index: StationIndex, policy: Policy, tz: str, workers: int = 1) -> None:
        self.index, self.policy, self.tz = index, policy, tz
        self.workers = max(1, workers)
        self.min_parts = self.workers
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None

    def run_day(self, frames: DayFrames) -> PartResult:
        """Compute ``frames`` here."""
        return self.run_parts(split_by_officer(frames, self.workers))

    def run_parts(self, parts: Iterable[DayFrames]) -> PartResult:
        """Compute each partition as it comes, at most ``workers`` at once, so only that many
        (plus whatever ``parts`` reads ahead) are in memory."""
        if self._pool is None:
            return merge_parts([compute_part(p, self.index, self.policy, self.tz) for p in parts])
        running: deque[Future[PartResult]] = deque()
        done: list[PartResult] = []
        for part in parts:
            if len(running) >= self.workers:
                done.append(running.popleft().result())
            running.append(self._pool.submit(compute_part, part, self.index, self.policy, self.tz))
        done.extend(f.result() for f in running)
        return merge_parts(done)

    def close(self) -> None:
        """Stop the thread pool."""
        if self._pool is not None:
            self._pool.shutdown()


class SchedulerUnreachable(Exception):
    """The Dask scheduler could not be reached (or refused this client): the message says what
    to do."""


def connect_scheduler(
    address: str,
    *,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    timeout_s: float = 20.0,
) -> Any:
    """A ``distributed.Client`` on the scheduler at ``address`` (``tcp://`` or ``tls://``).

    ``tls://`` needs all three PEM files (the CA that signed the scheduler's and workers'
    certificates, this client's certificate and key), given to Dask as its Security settings;
    with them the client requires TLS. Raises SchedulerUnreachable with one line naming the
    address and what to check."""
    from distributed import Client
    from distributed.security import Security

    files = (ca_file, cert_file, key_file)
    if address.startswith("tls://"):
        if any(f is None for f in files):
            raise SchedulerUnreachable(
                f"{address} is a TLS scheduler: set ROLLCALL_DASK_TLS_CA_FILE, "
                "ROLLCALL_DASK_TLS_CERT_FILE and ROLLCALL_DASK_TLS_KEY_FILE"
            )
        for f in files:
            if f is not None and not f.is_file():
                raise SchedulerUnreachable(f"Dask TLS file {f} does not exist")
        security = Security(  # type: ignore[no-untyped-call]
            tls_ca_file=str(ca_file),
            tls_client_cert=str(cert_file),
            tls_client_key=str(key_file),
            require_encryption=True,
        )
    elif any(f is not None for f in files):
        raise SchedulerUnreachable(
            f"Dask TLS files are set but the scheduler address {address} is not tls://"
        )
    else:
        security = None
    try:
        return Client(address, security=security, timeout=timeout_s)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerUnreachable(
            f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s "
            f"({type(exc).__name__}): start it (dask scheduler), check the address and, for "
            "tls://, the ROLLCALL_DASK_TLS_* files"
        ) from exc


class DaskExecutor:
    """On a running Dask cluster at ``address`` (``tcp://host:8786``), partitioned by officer.

    The driver loads and writes; workers only compute, so they need the rollcall package (same
    version) installed and no database access. The station index is sent to every worker once;
    the policy travels with each task, so every worker applies the same policy.
    """

    def __init__(
        self,
        address: str | Any,
        index: StationIndex,
        policy: Policy,
        tz: str,
        partitions: int | None = None,
    ) -> None:
        from distributed import Client

        self._own_client = isinstance(address, str)
        self.client = Client(address) if isinstance(address, str) else address  # type: ignore[no-untyped-call]
        self.policy, self.tz = policy, tz
        n_workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self.partitions = partitions or 2 * n_workers
        self.min_parts = self.partitions
        [self._index] = self.client.scatter([index], broadcast=True)

    def run_day(self, frames: DayFrames) -> PartResult:
        """Compute ``frames`` on the cluster and gather the partition results."""
        return self.run_parts(split_by_officer(frames, self.partitions))

    def run_parts(self, parts: Iterable[DayFrames]) -> PartResult:
        """Submit each partition as it comes, then gather every result."""
        futures = [
            self.client.submit(compute_part, p, self._index, self.policy, self.tz, pure=False)
            for p in parts
        ]
        return merge_parts(self.client.gather(futures))

    def close(self) -> None:
        """Close the client if this executor opened it."""
        if self._own_client:
            self.client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
