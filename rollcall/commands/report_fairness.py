"""``rollcall report fairness``: how the rules performed and for whom over a period."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer
from rich.table import Table

from rollcall.commands.common import (
    FromOpt,
    ToOpt,
    check_format,
    console,
    json_out,
    load_settings,
    period,
    sessions,
)


def _share(p: dict[str, Any]) -> str:
    if p["shown_as"] == "counts":
        return f"{p['count']} of {p['of']}"
    return f"{p['rate'] * 100:.1f}% ({p['low'] * 100:.1f}-{p['high'] * 100:.1f}%)"


def _rules_table(rules: list[dict[str, Any]]) -> Table:
    table = Table(title="Rules: how their flags were reviewed")
    for column in ("code", "raised", "reviewed", "dismissed", "substantiated", "precision"):
        table.add_column(column, justify="left" if column == "code" else "right")
    for r in rules:
        table.add_row(
            r["code"],
            f"{r['raised']:,}",
            f"{r['reviewed']:,}",
            f"{r['dismissed']:,}",
            f"{r['substantiated']:,}",
            _share(r["precision"]),
        )
    return table


def _groups_table(by: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=f"By {by.replace('_', ' ')} (! : interval wholly above the force rate)")
    for column in ("group", "on-duty days", "flag rate", "dismissal rate"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for g in rows:
        table.add_row(
            g["group"] or "(unknown)",
            f"{g['officer_days']:,}",
            _share(g["flag_rate"]) + (" !" if g["flag_rate_above_force"] else ""),
            _share(g["dismissal_rate"]) + (" !" if g["dismissal_rate_above_force"] else ""),
        )
    return table


def report_fairness(
    start: FromOpt,
    end: ToOpt,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Per rule: flags raised, reviewed, dismissed, substantiated and observed precision; flag
    and dismissal rates by unit, rank, device platform and shift pattern with 95% Wilson
    intervals; BELOW_OFFICE_SHARE by unit. Counts under 10 are shown as counts."""
    from store import audit
    from store.db import transaction
    from store.fairness import fairness_report

    fmt = check_format(fmt, ("table", "json"))
    first, last = period(start, end)
    settings = load_settings()
    with sessions(settings) as factory, transaction(factory) as session:
        report = fairness_report(session, first, last, settings.timezone)
        audit.append(
            session,
            actor=getpass.getuser(),
            role="cli",
            action="read.fairness",
            officer_id=None,
            case_ref=None,
            purpose="cli report fairness",
            request_id=None,
            detail={"from": first.isoformat(), "to": last.isoformat()},
        )
    if fmt == "json":
        json_out(report)
        return
    force = report["force"]
    assert isinstance(force, dict)
    console.print(
        f"Force: {_share(force['flag_rate'])} of on-duty days flagged; "
        f"{_share(force['dismissal_rate'])} of decided flags dismissed."
    )
    console.print(_rules_table(report["rules"]))  # type: ignore[arg-type]
    groups = report["groups"]
    assert isinstance(groups, dict)
    for by, rows in groups.items():
        console.print(_groups_table(by, rows))
    below = Table(title="BELOW_OFFICE_SHARE by unit")
    below.add_column("unit")
    below.add_column("office-based officers flagged", justify="right")
    for row in report["below_office_share_by_unit"]:  # type: ignore[attr-defined]
        below.add_row(row["unit"] or "(none)", _share(row["below_share"]))
    console.print(below)


def register(report: typer.Typer) -> None:
    """Add ``fairness`` to the ``rollcall report`` commands."""
    report.command("fairness")(report_fairness)
