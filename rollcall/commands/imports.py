"""``rollcall import``: one file of a kind loaded, bad rows named, the rest kept."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from intake.pipeline import FILE_KINDS, ingest_file
from intake.report import OUTCOMES, ImportFileError, ImportStoppedError, IngestReport
from rollcall import wallclock
from rollcall.commands.common import (
    cli_engine,
    console,
    err_console,
    error_line,
    load_policy_or_exit,
    load_settings,
)
from rollcall.tabular import escape_cell
from store.db import session_factory

MAX_ERRORS_SHOWN = 50


def _summary(kind: str, path: Path, report: IngestReport) -> Table:
    table = Table(title=f"{kind} from {path.name}", show_header=True)
    for outcome in OUTCOMES:
        label = "loaded" if outcome == "accepted" else outcome
        table.add_column(label, justify="right")
    table.add_row(*[f"{report.counts.get(o, 0):,}" for o in OUTCOMES])
    return table


def _write_errors(path: Path, file_name: str, report: IngestReport) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "row", "column", "reason"])
        for e in report.errors:
            writer.writerow(
                [escape_cell(file_name), e.row, escape_cell(e.column or ""), escape_cell(e.reason)]
            )


def import_(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(FILE_KINDS)}.")],
    file: Annotated[Path, typer.Argument(help="CSV (or .parquet) file; stations: GeoJSON.")],
    errors_file: Annotated[
        Path | None,
        typer.Option("--errors", help="Write every rejected row (file,row,column,reason) here."),
    ] = None,
) -> None:
    """Import one file of KIND. Bad rows are reported and the rest still load; exit 1 if any failed.

    Load order: stations, officers, devices, badges, roster, overtime, then pings, swipes and visits
    (events are matched against the roster already stored). Rows are numbered from 1 after the
    header.
    """
    if kind not in FILE_KINDS:
        err_console.print(
            f"[red]error:[/] unknown kind {kind!r}; expected one of {', '.join(FILE_KINDS)}"
        )
        raise typer.Exit(2)
    settings = load_settings()
    policy = load_policy_or_exit(settings)
    engine = cli_engine(settings)
    factory = session_factory(engine)
    now = wallclock.utc_now()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:>12,} rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task(f"importing {file.name}", total=1.0, rows=0)

        def on_progress(rows: int, fraction: float) -> None:
            bar.update(task, completed=fraction, rows=rows)

        try:
            report = ingest_file(
                factory,
                kind,
                file,
                tz=settings.timezone,
                policy=policy,
                now=now,
                progress=on_progress,
            )
        except ImportStoppedError as exc:
            console.print(_summary(kind, file, exc.report))
            _print_row_errors(file, exc.report, errors_file)
            error_line(str(exc))
            raise typer.Exit(1) from exc
        except ImportFileError as exc:
            error_line(str(exc))
            raise typer.Exit(1) from exc
        finally:
            engine.dispose()
    console.print(_summary(kind, file, report))
    if report.errors:
        _print_row_errors(file, report, errors_file)
        raise typer.Exit(1)


def _print_row_errors(file: Path, report: IngestReport, errors_file: Path | None) -> None:
    for e in report.errors[:MAX_ERRORS_SHOWN]:
        column = f", column {e.column}" if e.column else ""
        err_console.print(f"{file.name}: row {e.row}{column}: {e.reason}", markup=False)
    hidden = len(report.errors) - MAX_ERRORS_SHOWN
    if hidden > 0:
        err_console.print(f"... and {hidden:,} more (use --errors FILE to write them all)")
    if errors_file is not None:
        _write_errors(errors_file, file.name, report)


def register(app: typer.Typer) -> None:
    """Add ``import`` to the ``rollcall`` application."""
    app.command("import")(import_)
