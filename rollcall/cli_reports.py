"""Command-line reports and batch jobs: nightly, jobs, report, flags, purge, demo."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from rollcall import wallclock
from rollcall.console import (
    cli_engine,
    console,
    err_console,
    error_line,
    load_policy_or_exit,
    load_settings,
)
from rollcall.settings import Settings
from rules.clock import iso_local
from rules.policy import Policy
from store.db import make_engine, session_factory, transaction

report_app = typer.Typer(help="Reports for HR and analysts.", no_args_is_help=True)

FromOpt = Annotated[str, typer.Option("--from", help="First local day, YYYY-MM-DD.")]
ToOpt = Annotated[str, typer.Option("--to", help="Last local day (inclusive), YYYY-MM-DD.")]
UnitOpt = Annotated[str | None, typer.Option("--unit", help="Only officers of this unit.")]
INSUFFICIENT_TEXT = "insufficient evidence"


# --- shared plumbing ------------------------------------------------------------------------


@contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = cli_engine(settings)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


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


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        err_console.print(f"[red]error:[/] {option} {value!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from exc


def _run_day(value: str, option: str, tz: str) -> date:
    """A day for the nightly job: YYYY-MM-DD, or ``today`` / ``yesterday`` in the force's zone."""
    word = value.strip().lower()
    if word in ("today", "yesterday"):
        today = wallclock.utc_now().astimezone(ZoneInfo(tz)).date()
        return today - timedelta(days=1) if word == "yesterday" else today
    return _day(value, option)


def _period(start: str, end: str) -> tuple[date, date]:
    first, last = _day(start, "--from"), _day(end, "--to")
    if last < first:
        err_console.print(f"[red]error:[/] --to {last} is before --from {first}")
        raise typer.Exit(2)
    return first, last


def _check_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        err_console.print(f"[red]error:[/] --format must be one of {', '.join(allowed)}")
        raise typer.Exit(2)
    return value


def _json_out(document: Any) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def _range(lower: float | None, upper: float | None) -> str:
    """The share's bounds as "62-81%" (empty without expected days)."""
    if lower is None or upper is None:
        return ""
    return f"{lower * 100:.0f}-{upper * 100:.0f}%"


def _pct(share: float | None) -> str:
    return f"{share * 100:.0f}%" if share is not None else "n/a"


# --- nightly --------------------------------------------------------------------------------


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
) -> None:
    """Compute daily results and flags for each day (idempotent: a rerun replaces them), and the
    marked days before it (policy recompute_marked_days). One run at a time per day: a second
    run refuses, or waits with --wait."""
    from jobs.nightly import DayReport, NightlyBusyError, NightlyError, run_nightly

    settings = load_settings()
    policy = load_policy_or_exit(settings)
    if (date_ is None) == (not pending):
        err_console.print("[red]error:[/] give --date D (and --to D2) or --pending")
        raise typer.Exit(2)
    first = _run_day(date_, "--date", settings.timezone) if date_ is not None else None
    last = _run_day(to, "--to", settings.timezone) if to is not None else first
    if first is not None and last is not None and last < first:
        err_console.print(f"[red]error:[/] --to {last} is before --date {first}")
        raise typer.Exit(2)
    span = f"{first}..{last}" if first is not None else "marked days"
    table = Table(title="Nightly results", show_lines=False)
    for col in (
        "day",
        "officers",
        "fixes",
        "swipes",
        "day rows",
        "flags new",
        "kept",
        "withdrawn",
        "seconds",
    ):
        table.add_column(col, justify="left" if col == "day" else "right")
    with (
        _dask_client(settings, scheduler) as cluster,
        _sessions(settings) as factory,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task(f"nightly {span}", total=None)

        def on_day(d: DayReport) -> None:
            w = d.writes
            table.add_row(
                d.day.isoformat(),
                f"{d.officers:,}",
                f"{d.fixes:,}",
                f"{d.swipes:,}",
                f"{d.daily_rows:,}",
                str(w.flags_raised + w.flags_reinstated),
                str(w.flags_kept),
                str(w.flags_withdrawn),
                f"{sum(v for k, v in d.timings.items() if k in _STAGES):.1f}",
            )
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
            console.print(table)
            err_console.print(f"[red]nightly run failed:[/] {exc} (earlier days are committed)")
            raise typer.Exit(1) from exc
    console.print(table)
    pw = report.period_writes
    periods = ", ".join(f"{a}..{b}" for a, b in report.periods) or "none complete"
    if report.abandoned_runs:
        console.print(
            "Earlier run(s) marked abandoned (their process is gone): "
            + ", ".join(map(str, report.abandoned_runs))
        )
    console.print(
        f"Run {report.run_id}: {len(report.days)} day(s), policy {policy.version}. "
        f"Held events promoted {report.held_promoted:,}, expired {report.held_purged:,}. "
        f"Office-share periods: {periods} ({pw.flags_raised + pw.flags_reinstated} new, "
        f"{pw.flags_kept} kept, {pw.flags_withdrawn} withdrawn)."
    )


_STAGES = ("load", "compute", "write")


def jobs(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Newest runs shown.")] = 20,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The newest job runs with their outcome and process. Runs left "running" by a process that
    is gone (killed, power loss) are marked "abandoned" first."""
    from jobs.runs import reap_abandoned
    from store.job_runs import recent_runs

    fmt = _check_format(fmt, ("table", "json"))
    settings = load_settings()
    tz = settings.timezone
    with _sessions(settings) as factory:
        marked = reap_abandoned(factory, now=wallclock.utc_now())
        with factory() as session:
            runs = recent_runs(session, limit=limit)
    rows: list[dict[str, Any]] = [
        {
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
        for r in runs
    ]
    if fmt == "json":
        _json_out(rows)
        return
    table = Table(title="Job runs (newest first)")
    for col in ("run", "job", "outcome", "started", "finished", "heartbeat", "process"):
        table.add_column(col, justify="right" if col == "run" else "left", no_wrap=col != "process")
    for row in rows:
        table.add_row(
            str(row["run_id"]),
            str(row["job"]),
            str(row["outcome"]),
            str(row["started_at"]),
            str(row["finished_at"] or ""),
            str(row["heartbeat_at"] or ""),
            str(row["owner"] or ""),
        )
    console.print(table)
    for row in rows:
        if row["error"]:
            console.print(f"run {row['run_id']}: {row['error']}", markup=False)
    if marked:
        console.print(
            f"Marked {len(marked)} run(s) abandoned (their process is gone): "
            + ", ".join(map(str, marked))
        )


# --- reports --------------------------------------------------------------------------------


def compliance_table(rows: list[dict[str, Any]], policy: Policy, title: str) -> Table:
    """The HR view of compliance rows: one line per officer, shares as percentages, totals."""
    table = Table(
        title=title,
        caption=(
            "Office days: expected (rostered office or remote), declared office, verified (station "
            f"presence of at least {policy.office_day_min_hours:g} h). Share: estimated from the "
            "days with evidence; range: from every 'no evidence' day counted as not office to "
            f"every one counted as office; below the {policy.min_office_share:.0%} rule only "
            f"when even the range's top is. 'No evidence': office days with {INSUFFICIENT_TEXT} "
            "(device silent, no swipes), never counted against anyone."
        ),
        show_footer=True,
    )
    exp = sum(r["expected_office_days"] for r in rows)
    ver = sum(r["verified_office_days"] for r in rows)
    dec = sum(r["declared_office_days"] for r in rows)
    ins = sum(r["insufficient_evidence_days"] for r in rows)
    below = sum(1 for r in rows if not r["meets_policy"])
    assessed = exp - ins
    table.add_column("officer", footer=f"{len(rows)} officers", no_wrap=True)
    table.add_column("unit", footer="")
    table.add_column("expected", justify="right", footer=str(exp))
    table.add_column("declared", justify="right", footer=str(dec))
    table.add_column("verified", justify="right", footer=str(ver))
    table.add_column("no evidence", justify="right", footer=str(ins))
    table.add_column("share", justify="right", footer=_pct(ver / assessed if assessed else None))
    table.add_column("range", justify="right", footer="")
    table.add_column(f"{policy.min_office_share:.0%} rule", footer=f"{below} below")
    for r in rows:
        share = r["verified_office_share"]
        if r["expected_office_days"] == 0:
            verdict = "[dim]no office days[/]"
        elif share is None:
            verdict = f"[yellow]{INSUFFICIENT_TEXT}[/]"
        else:
            verdict = "[green]yes[/]" if r["meets_policy"] else "[red]below[/]"
        table.add_row(
            r["officer_id"],
            r["unit"] or "",
            str(r["expected_office_days"]),
            str(r["declared_office_days"]),
            str(r["verified_office_days"]),
            str(r["insufficient_evidence_days"]),
            _pct(share),
            _range(r.get("office_share_lower"), r.get("office_share_upper")),
            verdict,
        )
    return table


def unit_table(units: list[dict[str, Any]], policy: Policy, title: str) -> Table:
    """The roll-up per unit: officers assessed and meeting the rule, median and 10th-percentile
    share, insufficient-evidence days."""
    table = Table(
        title=title,
        caption=(
            f"Assessed: officers with at least one expected day with evidence. Rule: "
            f"{policy.min_office_share:.0%} of assessed days verified at a station. p10: the "
            "share below which the lowest tenth of the unit's assessed officers fall."
        ),
    )
    for col in ("unit", "officers", "assessed", "meeting", "below", "median", "p10", "no evidence"):
        table.add_column(col, justify="left" if col == "unit" else "right", no_wrap=True)
    for u in units:
        table.add_row(
            u["unit"] or "(none)",
            str(u["officers"]),
            str(u["officers_assessed"]),
            str(u["officers_meeting_policy"]),
            str(u["officers_below_policy"]),
            _pct(u["median_share"]),
            _pct(u["p10_share"]),
            str(u["insufficient_evidence_days"]),
        )
    return table


def _write_bytes(data: bytes, output: Path | None) -> None:
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


def _filter_or_exit(exc: Exception) -> typer.Exit:
    err_console.print(f"error: {exc}", markup=False, style="red")
    return typer.Exit(2)


RankOpt = Annotated[
    str | None, typer.Option("--rank", help="Only officers of this rank (any case).")
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", help="Write to this file instead of stdout.")
]


@report_app.command("compliance")
def report_compliance(
    start: FromOpt,
    end: ToOpt,
    unit: UnitOpt = None,
    rank: RankOpt = None,
    by: Annotated[str, typer.Option("--by", help="officer (one row each) or unit.")] = "officer",
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or xlsx.")] = "table",
    output: OutputOpt = None,
) -> None:
    """Office attendance against the hybrid-working rule: one row per office-based officer, or
    per unit with --by unit (officers assessed and meeting the rule, median and 10th-percentile
    share). --unit and --rank match any case; an unknown one names the nearest known values.
    xlsx needs --output (with --by unit it has a units sheet and an officers sheet)."""
    from rollcall.tabular import to_csv, to_xlsx
    from store.reports import FilterError, compliance_dicts, compliance_frame, unit_rollup

    fmt = _check_format(fmt, ("table", "csv", "json", "xlsx"))
    by = _check_format(by, ("officer", "unit"))
    if fmt == "xlsx" and output is None:
        err_console.print("[red]error:[/] --format xlsx needs --output FILE")
        raise typer.Exit(2)
    first, last = _period(start, end)
    settings = load_settings()
    policy = load_policy_or_exit(settings)
    with _sessions(settings) as factory, transaction(factory) as session:
        try:
            frame = compliance_frame(session, first, last, unit=unit, rank=rank, policy=policy)
        except FilterError as exc:
            raise _filter_or_exit(exc) from exc
        _audit_cli(
            session,
            "read.compliance",
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "unit": unit,
                "rank": rank,
                "by": by,
                "format": fmt,
                "rows": frame.height,
            },
            purpose="cli report compliance",
        )
    units = unit_rollup(frame) if by == "unit" else None
    shown = units if units is not None else frame
    if fmt == "xlsx":
        sheets = {"units": units, "officers": frame} if units is not None else {"compliance": frame}
        _write_bytes(to_xlsx(sheets), output)
        err_console.print(f"{shown.height:,} rows written to {output}")
    elif fmt == "csv":
        _write_bytes(to_csv(shown), output)
    elif fmt == "json":
        document = units.to_dicts() if units is not None else compliance_dicts(frame, first, last)
        _json_out(document)
    else:
        scope = ", ".join(
            [f"unit {unit}" if unit else "all units"] + ([f"rank {rank}"] if rank else [])
        )
        title = f"Office attendance {first} to {last}, {scope}"
        if units is not None:
            console.print(unit_table(units.to_dicts(), policy, title))
        else:
            console.print(compliance_table(compliance_dicts(frame, first, last), policy, title))


def officer_tables(report: dict[str, Any]) -> tuple[Table, Table]:
    """The officer report as two tables: the days, then the flags (leads, not verdicts)."""
    days = Table(
        title=f"{report['officer_id']}: days {report['from']} to {report['to']}",
        caption="declared: where the on-duty shift said the officer worked; '-': no such shift",
    )
    for col in ("date", "declared", "expected office", "presence", "office day", "evidence"):
        days.add_column(col, justify="right" if col == "presence" else "left", no_wrap=True)
    for d in report["days"]:
        minutes = d["verified_presence_minutes"]
        if d["declared_location"] is None and not d["expected_office"]:
            evidence = "[dim]-[/]"
        elif d["evidence"] == "insufficient_evidence":
            evidence = f"[yellow]{INSUFFICIENT_TEXT}[/]"
        else:
            evidence = d["evidence"]
        days.add_row(
            d["date"],
            d["declared_location"] or "-",
            "yes" if d["expected_office"] else "no",
            f"{int(minutes // 60)} h {int(minutes % 60):02d} min",
            "[green]yes[/]" if d["verified_office_day"] else "no",
            evidence,
        )
    flags = flags_table(report["flags"], "Flags (leads for a reviewer, not findings of misconduct)")
    return days, flags


def _audit_cli(
    session: Session,
    action: str,
    detail: dict[str, Any],
    *,
    officer_id: str | None = None,
    case_ref: str | None = None,
    purpose: str,
) -> None:
    """Record a command-line read of people's data in the audit log (actor: the OS user, role
    ``cli``), in the caller's transaction."""
    from store import audit

    audit.append(
        session,
        actor=getpass.getuser(),
        role="cli",
        action=action,
        officer_id=officer_id,
        case_ref=case_ref,
        purpose=purpose,
        request_id=None,
        detail=detail,
    )


def _audit_cli_read(
    session: Session, officer_id: str, detail: dict[str, Any], case_ref: str | None
) -> bool:
    """Record a CLI read of an officer's data in the audit log."""
    _audit_cli(
        session,
        "read.attendance",
        detail,
        officer_id=officer_id,
        case_ref=case_ref,
        purpose="cli report officer",
    )
    return True


@report_app.command("officer")
def report_officer(
    officer_id: Annotated[str, typer.Argument(help="The officer's id.")],
    start: FromOpt,
    end: ToOpt,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    case_ref: Annotated[
        str | None, typer.Option("--case-ref", help="Case reference recorded in the audit log.")
    ] = None,
) -> None:
    """An officer's days and flags. The read is recorded in the audit log (role "cli")."""
    from store.reports import officer_report

    fmt = _check_format(fmt, ("table", "json"))
    first, last = _period(start, end)
    settings = load_settings()
    with _sessions(settings) as factory, transaction(factory) as session:
        report = officer_report(
            session, officer_id, first, last, include_misconduct=True, tz=settings.timezone
        )
        if report is None:
            missing = True
        else:
            missing = False
            _audit_cli_read(
                session, officer_id, {"from": first.isoformat(), "to": last.isoformat()}, case_ref
            )
    if missing or report is None:
        # A probe of an id that does not exist is recorded too (which ids exist is itself data).
        with _sessions(settings) as factory, transaction(factory) as session:
            _audit_cli(
                session,
                "access.refused",
                {"command": "report officer", "status": "not_found", "reason": "no such officer"},
                officer_id=officer_id[:64],
                case_ref=case_ref,
                purpose="cli report officer",
            )
        err_console.print(f"[red]error:[/] no officer {officer_id!r}")
        raise typer.Exit(1)
    if fmt == "json":
        _json_out(report)
        return
    days, flags = officer_tables(report)
    console.print(days)
    console.print(flags)


@report_app.command("days")
def report_days(
    start: FromOpt,
    end: ToOpt,
    unit: UnitOpt = None,
    rank: RankOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, json, parquet or xlsx.")] = "csv",
    output: OutputOpt = None,
) -> None:
    """Every officer's daily results, for analysts' tools."""
    from rollcall.tabular import to_csv, to_xlsx
    from store.reports import FilterError, day_rows

    fmt = _check_format(fmt, ("csv", "json", "parquet", "xlsx"))
    first, last = _period(start, end)
    if fmt in ("parquet", "xlsx") and output is None:
        err_console.print(f"[red]error:[/] --format {fmt} needs --output FILE")
        raise typer.Exit(2)
    settings = load_settings()
    with _sessions(settings) as factory, transaction(factory) as session:
        try:
            frame = day_rows(session, first, last, unit=unit, rank=rank)
        except FilterError as exc:
            raise _filter_or_exit(exc) from exc
        _audit_cli(
            session,
            "read.days",
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "unit": unit,
                "rank": rank,
                "format": fmt,
                "rows": frame.height,
            },
            purpose="cli report days",
        )
    if fmt == "parquet":
        assert output is not None
        frame.write_parquet(output)
    elif fmt == "json":
        text = orjson.dumps(frame.to_dicts(), option=orjson.OPT_INDENT_2).decode() + "\n"
        _write_bytes(text.encode(), output)
    elif fmt == "xlsx":
        _write_bytes(to_xlsx({"days": frame}), output)
    else:
        _write_bytes(to_csv(frame), output)
    if output is not None:
        err_console.print(f"{frame.height:,} day rows written to {output}")


# --- flags ----------------------------------------------------------------------------------


def flags_table(flags: list[dict[str, Any]], title: str | None = None) -> Table:
    """Flags as a review queue: what, when and its status beside the summary of its evidence."""
    table = Table(
        title=title or f"Flags ({len(flags)})",
        caption="A flag is a lead for a reviewer. Withdrawn: the data behind it was corrected.",
        show_lines=True,
    )
    table.add_column("flag", no_wrap=True)
    table.add_column("summary", overflow="fold")
    for f in flags:
        status = f["status"] + (" [yellow](withdrawn)[/]" if f["withdrawn"] else "")
        head = (
            f"{f['date']} {f['officer_id']}\n[bold]{f['code']}[/]\n{status}\n[dim]{f['flag_id']}[/]"
        )
        table.add_row(head, f["summary"])
    return table


# --- purge ----------------------------------------------------------------------------------


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

    with _sessions(settings) as factory:
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


# --- demo -----------------------------------------------------------------------------------


def demo(
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database URL (default: a fresh ./rollcall-demo.db)."),
    ] = None,
    officers: Annotated[int, typer.Option("--officers", min=20, help="Force size.")] = 150,
    days: Annotated[
        int, typer.Option("--days", min=1, max=31, help="Days from 2026-10-01 (31: October).")
    ] = 31,
) -> None:
    """Build a synthetic force, import it, run the nightly job over a month and show the results.

    Uses a fresh SQLite file ./rollcall-demo.db (not ROLLCALL_DATABASE_URL), unless --database
    names another database.
    """
    from jobs.demo import DEMO_DATABASE_URL, run_demo
    from store.reports import compliance_rows, officer_report

    settings = load_settings()
    policy = load_policy_or_exit(settings)
    url = database or DEMO_DATABASE_URL
    console.rule("[bold]Rollcall demo")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("nightly job", total=None, visible=False)

        def on_step(text: str) -> None:
            progress.console.print(f"[green]✓[/] {text}")

        def on_day(d: Any) -> None:
            progress.update(task, visible=True, total=days)
            progress.advance(task)

        result = run_demo(
            policy=policy,
            tz=settings.timezone,
            database_url=url,
            officers=officers,
            days=days,
            on_step=on_step,
            on_day=on_day,
        )
    counts = result.nightly.counts()
    console.print(
        f"[green]✓[/] nightly job over {len(result.nightly.days)} days: "
        f"{counts['daily']:,} officer-days, {counts['flags_raised']:,} flags raised "
        f"(run {result.nightly.run_id}, {result.seconds['nightly']:.0f} s)"
    )
    engine = make_engine(url)
    factory = session_factory(engine)
    with factory() as session:
        rows = compliance_rows(session, result.first, result.last, unit=result.unit, policy=policy)
    console.rule("[bold]What HR looks at first")
    console.print(
        compliance_table(
            rows, policy, f"Office attendance {result.first} to {result.last}, unit {result.unit}"
        )
    )
    console.rule("[bold]What an investigator looks at first")
    with transaction(factory) as session:
        report = officer_report(
            session,
            result.officer_id,
            result.first,
            result.last,
            include_misconduct=True,
            tz=settings.timezone,
        )
        assert report is not None
        _audit_cli_read(
            session,
            result.officer_id,
            {"from": result.first.isoformat(), "to": result.last.isoformat(), "demo": True},
            None,
        )
    engine.dispose()
    days_table, flag_table = officer_tables(report)
    console.print(days_table)
    console.print(flag_table)
    console.rule("[bold]Next")
    env = f"ROLLCALL_DATABASE_URL={url}"
    console.print(
        "Everything above came from the demo database "
        f"[bold]{url}[/]. To explore it:\n"
        f"  {env} rollcall report compliance --from {result.first} --to {result.last}\n"
        f"  {env} rollcall report officer {result.officer_id} --from {result.first} "
        f"--to {result.last}\n"
        f"  {env} rollcall flags --status open\n"
        "Start the API on it (the key file signs investigators' timeline exports; make it once)"
        " and get a token:\n"
        "  rollcall timeline keygen export-key.pem > export-key.pub\n"
        f"  export {env} ROLLCALL_EXPORT_KEY_FILE=$PWD/export-key.pem\n"
        "  export ROLLCALL_JWT_SECRET=$(python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(32))')\n"
        "  rollcall serve &\n"
        "  TOKEN=$(rollcall token --role hr --sub you)\n"
        '  curl -H "Authorization: Bearer $TOKEN" '
        f"'http://127.0.0.1:8000/v1/compliance?from={result.first}&to={result.last}'\n"
        "A signed timeline for a case, checked offline with the public key:\n"
        "  TOKEN=$(rollcall token --role investigator --sub you)\n"
        '  curl -H "Authorization: Bearer $TOKEN" -o export.json '
        f"'http://127.0.0.1:8000/v1/officers/{result.officer_id}/timeline/export"
        f"?from={result.first}&to={result.last}&case_ref=DEMO-1'\n"
        "  rollcall timeline verify export.json --public-key export-key.pub\n"
        "OpenAPI docs: http://127.0.0.1:8000/docs\n"
        "The web app on the demo database, with the development sign-in (no token needed):\n"
        f"  {env} ROLLCALL_EXPORT_KEY_FILE=$PWD/export-key.pem rollcall serve --dev-login\n"
        "  then open http://127.0.0.1:8000/app/login and sign in as hr, investigator, auditor, "
        f"or officer with officer id {result.officer_id}",
        soft_wrap=True,  # commands stay on one line, to be copied whole
    )


def register(app: typer.Typer) -> None:
    """Add the report and job commands to the ``rollcall`` application."""
    app.command("nightly")(nightly)
    app.command("jobs")(jobs)
    from rollcall.cli_integrity import report_roster_integrity

    report_app.command("roster-integrity")(report_roster_integrity)
    app.add_typer(report_app, name="report")
    app.command("purge")(purge)
    app.command("demo")(demo)
