"""`rollcall report roster-integrity`: the roster-integrity leads of any range, read only."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from rollcall.commands.common import (
    FromOpt,
    ToOpt,
    check_format,
    console,
    json_out,
    load_policy_or_exit,
    load_settings,
    period,
    sessions,
)


def report_roster_integrity(
    start: FromOpt,
    end: ToOpt,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Self-approved and overlapping claims, self-edits and edit clusters of local days
    --from..--to taken as one period, printed (nothing is written but the audit entry: flags
    are raised by `rollcall nightly` for each calendar month it closes, so a custom range never
    withdraws a month's leads). The read is recorded in the audit log (role "cli")."""
    from jobs.integrity import find
    from store import audit
    from store.db import transaction

    fmt = check_format(fmt, ("table", "json"))
    first, last = period(start, end)
    settings = load_settings()
    policy = load_policy_or_exit(settings)
    with sessions(settings) as factory, transaction(factory) as session:
        report = find(session, first, last, policy=policy, tz=settings.timezone)
        audit.append(
            session,
            actor=getpass.getuser(),
            role="cli",
            action="read.roster_integrity",
            officer_id=None,
            case_ref=None,
            purpose="cli report roster-integrity",
            request_id=None,
            detail={
                "from": first.isoformat(),
                "to": last.isoformat(),
                "findings": len(report.findings),
                "officers": sorted({f.officer_id for f in report.findings}),
            },
        )
    rows = [
        {
            "code": f.code,
            "officer_id": f.officer_id,
            "date": f.date.isoformat(),
            "misconduct": f.misconduct,
            "summary": f.summary,
            "evidence": f.evidence,
            "rule_version": f.rule_version,
        }
        for f in report.findings
    ]
    if fmt == "json":
        json_out(
            {
                "from": first.isoformat(),
                "to": last.isoformat(),
                "findings": rows,
                "paid_hours": round(
                    sum(f.evidence.get("paid_hours", 0) for f in report.findings), 2
                ),
            }
        )
        return
    table = Table(
        title=f"Roster integrity {first} to {last}: {len(rows)} lead(s)",
        caption="A flag is a lead for a reviewer, not a finding of misconduct.",
        show_lines=True,
    )
    table.add_column("lead", no_wrap=True)
    table.add_column("paid hours", justify="right")
    table.add_column("summary", overflow="fold")
    for f in report.findings:
        table.add_row(
            f"{f.date.isoformat()} {f.officer_id}\n[bold]{f.code}[/]",
            f"{f.evidence.get('paid_hours', 0):.2f}",
            f.summary,
        )
    console.print(table)


def register(report: typer.Typer) -> None:
    """Add ``roster-integrity`` to the ``rollcall report`` commands."""
    report.command("roster-integrity")(report_roster_integrity)
