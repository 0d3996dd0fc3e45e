"""/metrics under `rollcall serve --workers 2`: the same totals whichever worker answers, job
metrics from the job-run table, process metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from api.app import create_app
from fixtures.synth import generate_force
from jobs.imports import import_directory
from rollcall.settings import Settings
from rules.policy import load_policy
from store.db import make_engine, session_factory, transaction
from store.models import DailyResult, RecomputeMark
from tests.clock import CLI_NOW
from tests.faults.conftest import rollcall
from tests.served import SECRET, served

REQUESTS = 24
TZ = "Europe/London"
START = date(2026, 10, 24)
IMPORTED_AT = datetime(2026, 10, 26, 6, 0, tzinfo=UTC)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _healthz_count(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    key = (
        "rollcall_http_requests_total",
        (("method", "GET"), ("route", "/healthz"), ("status", "200")),
    )
    return samples.get(key, 0.0)


@pytest.fixture(scope="module")
def force_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five officers over one day, as import files."""
    out = tmp_path_factory.mktemp("metrics-force")
    generate_force(5, 5, START, 1, tz=TZ).write(out)
    (out / "overtime.csv").unlink()  # none on so small a force: a header alone is refused
    return out


@pytest.mark.slow
def test_two_workers_report_the_same_totals_and_job_metrics(
    db_url: str, tmp_path: Path, force_dir: Path
) -> None:
    with served(db_url, tmp_path / "serve.log", workers=2) as server:
        with httpx.Client(base_url=server.base_url) as client:
            before = _healthz_count(_samples(client.get("/metrics").text))
            for _ in range(REQUESTS):
                # A new connection each: the kernel hands them to either worker.
                assert httpx.get(f"{server.base_url}/healthz").status_code == 200
            scrapes = [_samples(httpx.get(f"{server.base_url}/metrics").text) for _ in range(8)]
        assert {_healthz_count(s) - before for s in scrapes} == {REQUESTS}
        assert all(("process_resident_memory_bytes", ()) in s for s in scrapes)
        assert {s[("rollcall_job_metrics_up", ())] for s in scrapes} == {1.0}
        assert ("rollcall_job_last_run_finished_timestamp_seconds", (("job", "nightly"),)) not in (
            scrapes[0]
        )

        engine = make_engine(db_url)
        factory = session_factory(engine)
        import_directory(factory, force_dir, tz=TZ, policy=load_policy(), now=IMPORTED_AT)
        result = rollcall(db_url, "nightly", "--date", START.isoformat())
        assert result.returncode == 0, result.stderr
        with transaction(factory) as session:
            daily = session.scalar(select(func.count()).select_from(DailyResult))
            session.add(RecomputeMark(officer_id="O1", day=START, marked_at=CLI_NOW, reason="t"))
        engine.dispose()
        after = _samples(httpx.get(f"{server.base_url}/metrics").text)
    nightly = (("job", "nightly"),)
    assert after[("rollcall_job_last_run_outcome", (("job", "nightly"), ("outcome", "ok")))] == 1
    assert (
        after[("rollcall_job_last_run_outcome", (("job", "nightly"), ("outcome", "failed")))] == 0
    )
    assert after[("rollcall_job_last_run_finished_timestamp_seconds", nightly)] > 0
    assert after[("rollcall_job_last_success_timestamp_seconds", nightly)] > 0
    assert after[("rollcall_job_last_run_duration_seconds", nightly)] >= 0
    assert daily
    assert (
        after[("rollcall_job_last_run_rows_written", (("job", "nightly"), ("kind", "daily")))]
        == daily
    )
    assert after[("rollcall_recompute_marks_pending", ())] == 1


def test_metrics_answer_without_job_series_when_the_database_does_not(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'never-migrated.db'}", jwt_secret=SECRET
    )
    with TestClient(create_app(settings)) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    samples = _samples(answer.text)
    assert samples[("rollcall_job_metrics_up", ())] == 0
    assert not [name for name, _ in samples if name.startswith("rollcall_job_last")]
    assert ("process_cpu_seconds_total", ()) in samples
