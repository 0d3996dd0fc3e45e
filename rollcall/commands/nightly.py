"""``rollcall nightly``, ``jobs`` and ``purge``: the batch jobs and their runs."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from rollcall import wallclock
from rollcall.commands.common import (
    check_format,
    console,
    err_console,
    error_line,
    json_out,
    load_policy_or_exit,
    load_settings,
    parse_day,
    sessions,
)
from rollcall.settings import Settings
from rules.clock import iso_local


@contextmanager
def _dask_client(settings: Settings, address: str | None) -> Iterator[Any]:
    """A Dask client on ``address`` (None: no client), with the ROLLCALL_DASK_* TLS settings;
    an unreachable scheduler ends the command with one line saying what to do."""
    if address is None:
        yield None
        return
    from jobs.executors import SchedulerUnreachable, connect_scheduler

    try:
        client = connect_scheduler(
            address,
            ca_file=settings.dask_tls_ca_file,
            cert_file=settings.dask_tls_cert_file,
            key_file=settings.dask_tls_key_file,
            timeout_s=settings.dask_connect_timeout_s,
        )
    except SchedulerUnreachable as exc:
        error_line(str(exc))
        raise typer.Exit(1) from exc
    try:
        yield client
    finally:
        client.close()


def _run_day(value: str, option: str, tz: str) -> date:
    """A day for the nightly job: YYYY-MM-DD, or ``today`` / ``yesterday`` in the force's zone."""
    word = value.strip().lower()
    if word in ("today", "yesterday"):
        today = wallclock.utc_now().astimezone(ZoneInfo(tz)).date()
        return today - timedelta(days=1) if word == "yesterday" else today
    return parse_day(value, option)


def nightly(
    date_: Annotated[
        str | None,
        typer.Option(
            "--date", help="Local day to compute: YYYY-MM-DD, yesterday or today (force's zone)."
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option("--to", help="Compute every day from --date to this one (same forms)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Officer partitions computed in parallel.")
    ] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786) to compute on."),
    ] = None,
    pending: Annotated[
        bool,
        typer.Option(
            "--pending", help="Recompute every day marked for it (late events, roster edits)."
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Wait for a nightly run computing the same days to finish."),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Compute daily results and flags for each day (idempotent: a rerun replaces them), and the
    marked days before it (policy recompute_marked_days). One run at a time per day: a second
    run refuses, or waits with --wait."""
    from jobs.nightly import DayReport, NightlyBusyError, NightlyError, run_nightly

    fmt = check_format(fmt, ("table", "json"))
    settings = load_settings()
    policy = load_policy_or_exit(settings)
    first, last = _nightly_days(date_, to, pending=pending, tz=settings.timezone)
    span = f"{first}..{last}" if first is not None else "marked days"
    days: list[dict[str, Any]] = []
    with (
        _dask_client(settings, scheduler) as cluster,
        sessions(settings) as factory,
        _progress() as progress,
    ):
        task = progress.add_task(f"nightly {span}", total=None)

        def on_day(d: DayReport) -> None:
            days.append(_day_row(d))
            progress.advance(task)

        try:
            report = run_nightly(
                factory,
                first,
                last,
                policy=policy,
                tz=settings.timezone,
                workers=workers,
                scheduler=cluster,
                on_day=on_day,
                clock=wallclock.utc_now,
                wait=wait,
                on_wait=lambda text: err_console.print(text, markup=False),
            )
        except NightlyBusyError as exc:
            error_line(str(exc))
            raise typer.Exit(1) from exc
        except NightlyError as exc:
            if fmt == "table":
                console.print(_nightly_table(days))
            err_console.print(f"[red]nightly run failed:[/] {exc} (earlier days are committed)")
            raise typer.Exit(1) from exc
    if fmt == "json":
        json_out(_nightly_document(report, policy.version, days))
        return
    _print_nightly(report, policy.version, days)


def _nightly_days(
    date_: str | None, to: str | None, *, pending: bool, tz: str
) -> tuple[date | None, date | None]:
    """The run's first and last day from --date/--to (None, None with --pending); exit 2 when
    neither or both of --date and --pending are given, or --to is before --date."""
    if (date_ is None) == (not pending):
        err_console.print("[red]error:[/] give --date D (and --to D2) or --pending")
        raise typer.Exit(2)
    first = _run_day(date_, "--date", tz) if date_ is not None else None
    last = _run_day(to, "--to", tz) if to is not None else first
    if first is not None and last is not None and last < first:
        err_console.print(f"[red]error:[/] --to {last} is before --date {first}")
        raise typer.Exit(2)
    return first, last


def _progress() -> Progress:
    """A transient progress bar on stderr: days done of the run."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _print_nightly(report: Any, policy_version: str, days: list[dict[str, Any]]) -> None:
    """The run's summary as a table of days and a closing line (a jobs.nightly.NightlyReport)."""
    console.print(_nightly_table(days))
    pw = report.period_writes
    periods = ", ".join(f"{a}..{b}" for a, b in report.periods) or "none complete"
    if report.abandoned_runs:
        console.print(
            "Earlier run(s) marked abandoned (their process is gone): "
            + ", ".join(map(str, report.abandoned_runs))
        )
    console.print(
        f"Run {report.run_id}: {len(report.days)} day(s), policy {policy_version}. "
        f"Held events promoted {report.held_promoted:,}, expired {report.held_purged:,}. "
        f"Office-share periods: {periods} ({pw.flags_raised + pw.flags_reinstated} new, "
        f"{pw.flags_kept} kept, {pw.flags_withdrawn} withdrawn)."
    )


_STAGES = ("load", "compute", "write")
# The nightly summary's columns: (JSON key, table header).
_DAY_COLUMNS = (
    ("day", "day"),
    ("officers", "officers"),
    ("fixes", "fixes"),
    ("swipes", "swipes"),
    ("daily_rows", "day rows"),
    ("flags_new", "new"),
    ("flags_kept", "kept"),
    ("flags_withdrawn", "withdrawn"),
    ("seconds", "seconds"),
)


def _narrow_table(title: str, caption: str) -> Table:
    """A table that fits 80 columns: no outer border, one space between columns."""
    return Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0))


def _day_row(d: Any) -> dict[str, Any]:
    """One computed day (a jobs.nightly.DayReport) as the summary's row."""
    w = d.writes
    return {
        "day": d.day.isoformat(),
        "officers": d.officers,
        "fixes": d.fixes,
        "swipes": d.swipes,
        "daily_rows": d.daily_rows,
        "flags_new": w.flags_raised + w.flags_reinstated,
        "flags_kept": w.flags_kept,
        "flags_withdrawn": w.flags_withdrawn,
        "seconds": round(sum(v for k, v in d.timings.items() if k in _STAGES), 1),
    }


def _nightly_table(days: list[dict[str, Any]]) -> Table:
    """The days of a nightly run, readable at 80 columns (numbers are never cut)."""
    table = _narrow_table(
        "Nightly results",
        "day rows: officers' daily results written; flags: new, kept, withdrawn; seconds: "
        "load, compute and write",
    )
    for key, header in _DAY_COLUMNS:
        table.add_column(header, justify="left" if key == "day" else "right", no_wrap=True)
    for row in days:
        table.add_row(
            row["day"],
            *(f"{row[key]:,}" for key, _ in _DAY_COLUMNS[1:-1]),
            f"{row['seconds']:.1f}",
        )
    return table


def _nightly_document(report: Any, policy_version: str, days: list[dict[str, Any]]) -> Any:
    """The nightly summary as JSON: the run, each day's row, held events, office-share periods
    and their flags, earlier runs marked abandoned."""
    pw = report.period_writes
    return {
        "run_id": report.run_id,
        "policy_version": policy_version,
        "days": days,
        "held_promoted": report.held_promoted,
        "held_expired": report.held_purged,
        "periods": [{"from": a.isoformat(), "to": b.isoformat()} for a, b in report.periods],
        "period_flags": {
            "new": pw.flags_raised + pw.flags_reinstated,
            "kept": pw.flags_kept,
            "withdrawn": pw.flags_withdrawn,
        },
        "abandoned_runs": list(report.abandoned_runs),
    }


def _took(row: Any, now: datetime) -> str:
    """How long a run took, or for one still running how long ago its last heartbeat was."""
    if row.finished_at is not None:
        return _duration((row.finished_at - row.started_at).total_seconds())
    beat = row.heartbeat_at or row.started_at
    return f"beat {_duration((now - beat).total_seconds())} ago"


def _duration(seconds: float) -> str:
    """``seconds`` as "4.2 s", "12 min 05 s" or "3 h 02 min"."""
    if seconds < 60:
        return f"{max(seconds, 0):.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def jobs(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Newest runs shown.")] = 20,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The newest job runs with their outcome and process. Runs left "running" by a process that
    is gone (killed, power loss) are marked "abandoned" first."""
    from jobs.runs import reap_abandoned
    from store.job_runs import recent_runs

    fmt = check_format(fmt, ("table", "json"))
    settings = load_settings()
    tz = settings.timezone
    now = wallclock.utc_now()
    with sessions(settings) as factory:
        marked = reap_abandoned(factory, now=now)
        with factory() as session:
            runs = recent_runs(session, limit=limit)
    if fmt == "json":
        json_out([_run_dict(r, tz) for r in runs])
        return
    table = _narrow_table("Job runs (newest first)", f"started: local time ({tz})")
    for col in ("run", "job", "outcome", "started", "took", "process"):
        table.add_column(col, justify="right" if col == "run" else "left", no_wrap=col != "process")
    for r in runs:
        table.add_row(
            str(r.run_id),
            r.job,
            r.outcome,
            r.started_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S"),
            _took(r, now),
            f"{r.owner_host}:{r.owner_pid}" if r.owner_host else "",
        )
    console.print(table)
    for r in runs:
        if r.error:
            console.print(f"run {r.run_id}: {r.error}", markup=False, soft_wrap=True)
    if marked:
        console.print(
            f"Marked {len(marked)} run(s) abandoned (their process is gone): "
            + ", ".join(map(str, marked))
        )


def _run_dict(r: Any, tz: str) -> dict[str, Any]:
    """A job run (store.models.JobRun) as ``rollcall jobs --format json`` gives it."""
    return {
        "run_id": r.run_id,
        "job": r.job,
        "outcome": r.outcome,
        "started_at": iso_local(r.started_at, tz),
        "finished_at": iso_local(r.finished_at, tz) if r.finished_at else None,
        "heartbeat_at": iso_local(r.heartbeat_at, tz) if r.heartbeat_at else None,
        "owner": f"{r.owner_host}:{r.owner_pid}" if r.owner_host else None,
        "params": r.params,
        "error": r.error,
    }


def _checkpoint_after_purge(factory: sessionmaker[Session], settings: Settings) -> None:
    """With ROLLCALL_AUDIT_CHECKPOINT_FILE set, a signed checkpoint of the purged log."""
    if settings.audit_checkpoint_file is None:
        return
    from api.checkpoints import make_checkpoint
    from api.signing import load_signer

    key = settings.audit_key_file or settings.export_key_file
    if key is None:
        err_console.print("warning: no audit key: no checkpoint after the purge", style="yellow")
        return
    seq, _ = make_checkpoint(
        factory, load_signer(key), settings.audit_checkpoint_file, settings.timezone
    )
    err_console.print(f"audit checkpoint {seq} appended to {settings.audit_checkpoint_file}")


def purge() -> None:
    """Apply the retention rules: old raw events, expired held events, old derived data and old
    audit entries (in batches, each recorded by a marker entry that keeps the chain verifiable;
    each batch is reported on stderr as it commits, and an interrupted purge continues when run
    again). Exit 1 if the audit log could not be purged because its old entries do not verify."""
    from jobs.retention import run_purge
    from store.audit import AuditPurge

    def audit_progress(batch: AuditPurge, through_seq: int) -> None:
        err_console.print(
            f"audit log: entries {batch.first_seq:,}..{batch.last_seq:,} removed, marker entry "
            f"{batch.marker_seq:,}; {through_seq - batch.last_seq:,} to go",
            soft_wrap=True,
        )

    settings = load_settings()
    policy = load_policy_or_exit(settings)
    from store.retention import PurgeBusyError

    with sessions(settings) as factory:
        try:
            report = run_purge(
                factory,
                policy=policy,
                now=wallclock.utc_now(),
                tz=settings.timezone,
                actor=getpass.getuser(),
                on_audit_batch=audit_progress,
            )
        except PurgeBusyError as exc:
            error_line(str(exc))
            raise typer.Exit(1) from exc
        _checkpoint_after_purge(factory, settings)
    table = Table(title="Retention purge", caption=report.note)
    table.add_column("table")
    table.add_column("rows removed", justify="right")
    table.add_column("cutoff")
    for name, (count, cutoff) in report.removed.items():
        table.add_row(name, f"{count:,}", cutoff)
    console.print(table)
    if report.audit_error is not None:
        err_console.print(f"error: {report.note}", markup=False, style="red")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``nightly``, ``jobs`` and ``purge`` to the ``rollcall`` application."""
    app.command("nightly")(nightly)
    app.command("jobs")(jobs)
    app.command("purge")(purge)
