"""The ``rollcall`` command line: schema, imports, and the commands of the jobs and the service."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from intake.pipeline import FILE_KINDS, ingest_file
from intake.report import OUTCOMES, ImportFileError, ImportStoppedError, IngestReport
from rollcall import cli_api, cli_fairness, cli_flags, cli_reports, cli_subject, wallclock
from rollcall.console import (
    cli_engine,
    console,
    err_console,
    error_line,
    load_policy_or_exit,
    load_settings,
)
from rollcall.settings import get_settings
from rollcall.tabular import escape_cell
from store.db import session_factory
from store.migrate import current_revision, upgrade

app = typer.Typer(
    name="rollcall",
    help="Verified on-duty attendance: imports, nightly results, reports and the HTTP API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")

MAX_ERRORS_SHOWN = 50


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or migrate it to the newest version (Alembic head)."""
    settings = load_settings()
    engine = cli_engine(settings, create=True)
    before = current_revision(engine)
    indexed = upgrade(engine)
    after = current_revision(engine)
    engine.dispose()
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"Schema of {where} is up to date (revision {after}).")
    else:
        console.print(f"Schema of {where} migrated from {before or 'empty'} to revision {after}.")
    if indexed:
        console.print(
            f"Built the officer index of {len(indexed)} ping partition(s) an interrupted import "
            f"left without one: {', '.join(indexed)}."
        )


@db_app.command("backup")
def db_backup(
    file: Annotated[Path, typer.Argument(help="The new backup file (never overwritten).")],
) -> None:
    """Copy the SQLite database to FILE while the service runs (SQLite's online backup: writes
    still in the WAL are included); PostgreSQL: prints how to use pg_dump."""
    from store.backup import BackupError, backup_sqlite

    settings = load_settings()
    try:
        size = backup_sqlite(settings.database_url, file)
    except BackupError as exc:
        error_line(str(exc))
        raise typer.Exit(2 if "PostgreSQL" in str(exc) else 1) from exc
    console.print(
        f"Backed up to {file} ({size:,} bytes). Restore: stop the service, copy it over the "
        "database file (removing its -wal and -shm files), start again.",
        markup=False,
    )


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


@app.command("import")
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


cli_reports.register(app)
app.add_typer(cli_flags.flags_app, name="flags")
cli_subject.register(app)
cli_fairness.register(cli_reports.report_app)
cli_api.register(app)


def main() -> None:
    """Entry point of the ``rollcall`` console script: a failure ends with one line on stderr
    saying what is wrong and what to do (exit 1; 130 when interrupted), a traceback only with
    ROLLCALL_TRACEBACK=1."""
    from rollcall.failures import describe
    from rollcall.settings import Settings

    try:
        app(prog_name="rollcall")
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: what was committed before stays; run it again to go on\n")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("ROLLCALL_TRACEBACK"):
            raise
        try:
            lock_timeout_s = get_settings().db_lock_timeout_s
        except Exception:  # noqa: BLE001 - bad settings are reported on their own
            lock_timeout_s = Settings.model_fields["db_lock_timeout_s"].default
        sys.stderr.write(f"error: {describe(exc, lock_timeout_s=lock_timeout_s)}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
