"""What an import did: counts per outcome, row errors, and the errors that stop a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

OUTCOMES = ("accepted", "duplicate", "masked", "held", "rejected")

Progress = Callable[[int, float], None]


@dataclass(frozen=True)
class RowError:
    """One rejected record: its position, the column at fault (if one) and the reason."""

    index: int  # 0-based position in the batch or request
    row: int  # 1-based data row in the file (header excluded)
    column: str | None
    reason: str


@dataclass
class IngestReport:
    """Counts per outcome and the rejected records of one ingest."""

    kind: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    errors: list[RowError] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        for key, value in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        self.errors.extend(other.errors)

    @property
    def ok(self) -> bool:
        return self.counts["rejected"] == 0


class ImportFileError(ValueError):
    """A file that cannot be read as a whole (missing, empty, wrong encoding, missing columns)."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class FileStoppedError(Exception):
    """Reading a file failed part-way; ``row`` is the first data row not read."""

    def __init__(self, row: int, reason: str) -> None:
        self.row = row
        self.reason = reason
        super().__init__(f"reading stopped at data row {row:,} ({reason} at or after that row)")


class ImportStoppedError(ImportFileError):
    """An import that committed part of a file and could not read the rest; ``report`` holds what
    was committed."""

    def __init__(self, path: Path, stopped: FileStoppedError, report: IngestReport) -> None:
        self.report = report
        done = ", ".join(f"{report.counts.get(o, 0):,} {o}" for o in OUTCOMES)
        super().__init__(
            path,
            f"{stopped}. Stored before that: {done}. Nothing after that row was read; correct the "
            "file and import it again (rows already stored count as duplicates, masked events "
            "are not counted again).",
        )


def errors_from(frame: pl.DataFrame, row_offset: int) -> list[RowError]:
    """Row errors from a frame of ``_row``, ``column``, ``reason`` (1-based rows)."""
    return [
        RowError(index=r - row_offset - 1, row=r, column=c, reason=m)
        for r, c, m in frame.select("_row", "column", "reason").iter_rows()
    ]


def reject(rows: pl.DataFrame, column: str, reason: str | pl.Expr) -> pl.DataFrame:
    """``_row``, ``column``, ``reason`` of each of ``rows``: one row error per rejected record."""
    expr = pl.lit(reason) if isinstance(reason, str) else reason
    return rows.select("_row", column=pl.lit(column), reason=expr.cast(pl.Utf8))
