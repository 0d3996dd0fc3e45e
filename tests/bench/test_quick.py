"""bench/quick.py: the summary of `make bench-quick` read from each benchmark's JSON line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import quick, summary


def _recorded(bench: str, key: str = "machine", within: str | None = None) -> dict[str, object]:
    """The latest recorded run of ``bench`` whose line has ``key`` (holding ``within``, if
    given: a nightly run of one backend has only that backend's targets)."""
    for path in sorted(Path(summary.RESULTS).glob("*.json"), reverse=True):
        line = json.loads(path.read_text())
        if line.get("bench") == bench and key in line and (within is None or within in line[key]):
            return dict(line)
    raise AssertionError(f"bench/results/ holds no recorded {bench} run")


@pytest.mark.parametrize(
    ("bench", "some_target"),
    [
        ("import_pings", "postgis_share>=0.70"),
        ("nightly", "postgres:load_ratio_ok"),
        ("geofence", ">=10x_geopandas"),
        ("accuracy", "noise_1:precision"),
    ],
)
def test_each_recorded_benchmark_gives_its_figures_and_targets(
    bench: str, some_target: str
) -> None:
    if bench == "nightly":
        line = _recorded(bench, "meets_target", some_target.split(":")[0])
    else:
        line = _recorded(bench)
    met = quick.targets_met(bench, line)
    assert some_target in met
    assert all(isinstance(ok, bool) for ok in met.values())
    assert quick.FIGURES[bench](line)


def test_a_nightly_run_meets_the_load_ratio_only_at_or_below_its_target() -> None:
    line = _recorded("nightly", "meets_target")
    backend = next(iter(line["meets_target"]))  # type: ignore[call-overload]
    ratio = line["meets_target"][backend]["load_over_ceiling"]  # type: ignore[index]
    assert quick.targets_met("nightly", line)[f"{backend}:load_ratio_ok"] == (ratio <= 1.5)


def test_accuracy_ceilings_are_met_from_below() -> None:
    line = {
        "targets": {"precision": 0.9, "share_mae_points": 2.0, "off_duty_leaks": 0},
        "noise_1": {"precision": 0.95, "share_mae_points": 2.5, "off_duty_leaks": 0},
    }
    assert quick.targets_met("accuracy", line) == {
        "noise_1:precision": True,
        "noise_1:share_mae_points": False,
        "noise_1:off_duty_leaks": True,
    }


def test_the_summary_names_missed_targets_and_failures() -> None:
    rows = quick.summary_rows(
        [
            {
                "bench": "ingest",
                "wall_s": 61.2,
                "status": 0,
                "figures": ["one", "two"],
                "targets_met": {"zero_errors": True, "p99_batch<0.5s": False},
            },
            {"bench": "reporting", "wall_s": 3.0, "status": 1, "figures": [], "targets_met": {}},
        ]
    )
    assert rows[-2] == "| ingest | 61 | one<br>two | 1 of 2; missed p99_batch<0.5s |"
    assert rows[-1] == "| reporting | 3 | - | FAILED (exit 1) |"


def test_an_unknown_benchmark_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert quick.main(["no_such_bench"]) == 2
    assert "unknown benchmark" in capsys.readouterr().out
