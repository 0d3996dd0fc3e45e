"""What /metrics exposes: the app's request and ingest series (every worker's, summed, under
`rollcall serve --workers N`), job metrics read from the database, and process metrics."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store.job_runs import RunOutcome
from store.ops_metrics import JobState, job_states, pending_marks
from store.results import WriteCounts

log = logging.getLogger("rollcall.api")

# prometheus_client's own variable: set before the library is imported, every metric in the
# process keeps its values in a file there, and /metrics sums the files of every process.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OUTCOMES = tuple(o.value for o in RunOutcome if o is not RunOutcome.RUNNING)
WRITE_KINDS = tuple(f.name for f in fields(WriteCounts))


def multiprocess_dir() -> Path | None:
    """The directory of every worker's metric files, when this process runs as one of several
    (PROMETHEUS_MULTIPROC_DIR set); None for a single process."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def prepare_multiprocess_dir(path: Path) -> None:
    """Create ``path`` (private to this user) or empty it of an earlier run's metric files, whose
    counts would otherwise be added to this run's."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def worker_gone(pid: int, path: Path) -> None:
    """Bookkeeping for a worker that ended: its live gauges leave the exposition (its counters
    stay in the totals, as counters must)."""
    mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def exposition_registry(own: CollectorRegistry, directory: Path | None) -> CollectorRegistry:
    """The registry /metrics renders: ``own`` (the app's series) for a single process; with
    ``directory``, a registry that sums every worker's files there. Both gain process metrics
    (of the process answering the scrape)."""
    if directory is None:
        ProcessCollector(registry=own)
        return own
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    ProcessCollector(registry=registry)
    return registry


class JobMetrics:
    """A collector reading job runs and recompute marks from the database at each scrape; a
    database that does not answer gives ``rollcall_job_metrics_up 0`` and no job series."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def describe(self) -> list[Metric]:
        """Nothing at registration, so building the app queries nothing."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The job series, from three small aggregate queries and one primary-key read."""
        up = GaugeMetricFamily(
            "rollcall_job_metrics_up", "1 when the job metrics could be read from the database"
        )
        try:
            with self.factory() as session:
                states = job_states(session)
                marks = pending_marks(session)
        except SQLAlchemyError as exc:
            log.warning("job metrics not read", extra={"error_type": type(exc).__name__})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _job_families(states)
        yield GaugeMetricFamily(
            "rollcall_recompute_marks_pending",
            "Officer-days marked for recomputation (rollcall nightly --pending recomputes them)",
            value=marks,
        )


def _job_families(states: list[JobState]) -> Iterator[Metric]:
    finished = GaugeMetricFamily(
        "rollcall_job_last_run_finished_timestamp_seconds",
        "When the job's newest finished run ended (Unix time)",
        labels=["job"],
    )
    duration = GaugeMetricFamily(
        "rollcall_job_last_run_duration_seconds",
        "How long the job's newest finished run took",
        labels=["job"],
    )
    outcome = GaugeMetricFamily(
        "rollcall_job_last_run_outcome",
        "1 for the outcome of the job's newest finished run, 0 for the others",
        labels=["job", "outcome"],
    )
    rows = GaugeMetricFamily(
        "rollcall_job_last_run_rows_written",
        "Rows the job's newest finished run wrote, by kind (daily results, flags, marks)",
        labels=["job", "kind"],
    )
    success = GaugeMetricFamily(
        "rollcall_job_last_success_timestamp_seconds",
        "When the job's newest run that ended ok finished (Unix time)",
        labels=["job"],
    )
    running = GaugeMetricFamily(
        "rollcall_job_runs_running", "Runs of the job recorded as running now", labels=["job"]
    )
    for state in states:
        running.add_metric([state.job], state.running)
        if state.last_success_s is not None:
            success.add_metric([state.job], state.last_success_s)
        run = state.last
        if run is None or run.finished_at is None:
            continue
        finished.add_metric([state.job], run.finished_at.timestamp())
        duration.add_metric([state.job], (run.finished_at - run.started_at).total_seconds())
        for name in OUTCOMES:
            outcome.add_metric([state.job, name], 1.0 if run.outcome == name else 0.0)
        counts = run.counts or {}
        for kind in WRITE_KINDS:
            value = counts.get(kind)
            if isinstance(value, int):
                rows.add_metric([state.job, kind], value)
    yield from (finished, duration, outcome, rows, success, running)


def serve_metrics_dir(workers: int) -> tuple[Path | None, bool]:
    """The metrics directory of one `rollcall serve` run and whether the run owns it (and removes
    it at the end). An operator's PROMETHEUS_MULTIPROC_DIR is used and emptied; with several
    workers and none set, a new private directory is made and set for the workers to inherit;
    one worker without it keeps its counters in memory (None)."""
    given = multiprocess_dir()
    if given is not None:
        prepare_multiprocess_dir(given)
        return given, False
    if workers == 1:
        return None, False
    path = Path(tempfile.mkdtemp(prefix="rollcall-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    return path, True


def remove_metrics_dir(path: Path) -> None:
    """Remove a run's own metrics directory once every worker has ended."""
    os.environ.pop(MULTIPROC_ENV, None)
    shutil.rmtree(path, ignore_errors=True)
