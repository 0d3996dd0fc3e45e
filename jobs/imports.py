"""Import a directory of CONTRACT §2 files in dependency order (reference data, roster, events)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from rules.policy import Policy

# kind, file stem: stations before officers before assignments, the roster before the events it
# decides are on duty.
IMPORT_ORDER = (
    ("stations", "stations.geojson"),
    ("officers", "officers.csv"),
    ("devices", "devices.csv"),
    ("badges", "badges.csv"),
    ("roster", "roster.csv"),
    ("overtime", "overtime.csv"),
    ("pings", "pings"),
    ("swipes", "swipes.csv"),
    ("visits", "visits.csv"),
)


def import_directory(
    factory: sessionmaker[Session],
    directory: Path,
    *,
    tz: str,
    policy: Policy,
    now: datetime,
    on_file: Callable[[str, dict[str, int]], None] | None = None,
) -> dict[str, dict[str, int]]:
    """Import every known file of ``directory`` (pings: .csv or .parquet); counts per kind.

    Raises intake.report.ImportFileError if a file cannot be read; row errors are in the counts.
    """
    from intake.pipeline import ingest_file

    counts: dict[str, dict[str, int]] = {}
    for kind, stem in IMPORT_ORDER:
        candidates = (
            [directory / "pings.parquet", directory / "pings.csv"]
            if stem == "pings"
            else [directory / stem]
        )
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            continue
        report = ingest_file(factory, kind, path, tz=tz, policy=policy, now=now)
        counts[kind] = dict(report.counts)
        if on_file is not None:
            on_file(kind, counts[kind])
    return counts
