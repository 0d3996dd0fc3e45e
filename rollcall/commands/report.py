"""``rollcall report``: compliance, an officer's days and flags, and day rows for analysts."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.table import Table

from rollcall.commands.common import (
    FromOpt,
    OutputOpt,
    RankOpt,
    ToOpt,
    UnitOpt,
    audit_cli,
    audit_cli_read,
    check_format,
    console,
    err_console,
    filter_or_exit,
    json_out,
    load_policy_or_exit,
    load_settings,
    period,
    sessions,
    write_bytes,
)
from rollcall.commands.flags import flags_table
from rules.policy import Policy
from store.db import transaction

report_app = typer.Typer(help="Reports for HR and analysts.", no_args_is_help=True)

INSUFFICIENT_TEXT = "insufficient evidence"


def _range(lower: float | None, upper: float | None) -> str:
    """The share's bounds as "62-81%" (empty without expected days)."""
    if lower is None or upper is None:
        return ""
    return f"{lower * 100:.0f}-{upper * 100:.0f}%"


def _pct(share: float | None) -> str:
    return f"{share * 100:.0f}%" if share is not None else "n/a"


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

    fmt = check_format(fmt, ("table", "csv", "json", "xlsx"))
    by = check_format(by, ("officer", "unit"))
    if fmt == "xlsx" and output is None:
        err_console.print("[red]error:[/] --format xlsx needs --output FILE")
        raise typer.Exit(2)
    first, last = period(start, end)
    settings = load_settings()
    policy = load_policy_or_exit(settings)
    with sessions(settings) as factory, transaction(factory) as session:
        try:
            frame = compliance_frame(session, first, last, unit=unit, rank=rank, policy=policy)
        except FilterError as exc:
            raise filter_or_exit(exc) from exc
        audit_cli(
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
        write_bytes(to_xlsx(sheets), output)
        err_console.print(f"{shown.height:,} rows written to {output}")
    elif fmt == "csv":
        write_bytes(to_csv(shown), output)
    elif fmt == "json":
        document = units.to_dicts() if units is not None else compliance_dicts(frame, first, last)
        json_out(document)
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
    from rules.records import DayEvidence

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
        elif d["evidence"] == DayEvidence.INSUFFICIENT:
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

    fmt = check_format(fmt, ("table", "json"))
    first, last = period(start, end)
    settings = load_settings()
    with sessions(settings) as factory, transaction(factory) as session:
        report = officer_report(
            session, officer_id, first, last, include_misconduct=True, tz=settings.timezone
        )
        if report is None:
            missing = True
        else:
            missing = False
            audit_cli_read(
                session, officer_id, {"from": first.isoformat(), "to": last.isoformat()}, case_ref
            )
    if missing or report is None:
        # A probe of an id that does not exist is recorded too (which ids exist is itself data).
        with sessions(settings) as factory, transaction(factory) as session:
            audit_cli(
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
        json_out(report)
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

    fmt = check_format(fmt, ("csv", "json", "parquet", "xlsx"))
    first, last = period(start, end)
    if fmt in ("parquet", "xlsx") and output is None:
        err_console.print(f"[red]error:[/] --format {fmt} needs --output FILE")
        raise typer.Exit(2)
    settings = load_settings()
    with sessions(settings) as factory, transaction(factory) as session:
        try:
            frame = day_rows(session, first, last, unit=unit, rank=rank)
        except FilterError as exc:
            raise filter_or_exit(exc) from exc
        audit_cli(
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
        write_bytes(text.encode(), output)
    elif fmt == "xlsx":
        write_bytes(to_xlsx({"days": frame}), output)
    else:
        write_bytes(to_csv(frame), output)
    if output is not None:
        err_console.print(f"{frame.height:,} day rows written to {output}")


def register(app: typer.Typer) -> None:
    """Add the ``report`` group (with roster-integrity and fairness) to the application."""
    from rollcall.commands import report_fairness, report_integrity

    report_integrity.register(report_app)
    report_fairness.register(report_app)
    app.add_typer(report_app, name="report")
