"""bench/summary.py: one Markdown row per recorded run, from the files in bench/results/."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import summary


def test_a_recorded_nightly_run_gives_its_ratios_and_machine(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorded = sorted(summary.RESULTS.glob("*-nightly-quick.json"))
    assert recorded, "bench/results/ holds recorded nightly runs"
    assert summary.main([str(p) for p in recorded]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| started (UTC) | benchmark |")
    rows = lines[2:]
    assert len(rows) == len(recorded)
    for line in rows:
        assert "x the plain read (pairs [" in line
        assert "x in memory" in line
        assert "load " in line
        assert "fdatasync" in line


def test_every_recorded_run_is_summarised(capsys: pytest.CaptureFixture[str]) -> None:
    recorded = sorted(Path(summary.RESULTS).glob("*.json"))
    assert summary.main([]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == len(recorded)
    assert all(row.count("|") == 5 for row in rows)
