"""The ``rollcall flags`` commands: list with the API's filters, show one record, review one."""

from __future__ import annotations

import getpass
from datetime import UTC
from typing import Annotated, Any

import typer
from rich.table import Table

from rollcall import wallclock
from rollcall.commands.common import (
    audit_cli,
    check_format,
    console,
    err_console,
    json_out,
    load_policy_or_exit,
    load_settings,
    sessions,
)

flags_app = typer.Typer(
    help="Flags: list them, read one with its history, review one.",
    invoke_without_command=True,
)
CLI_ROLE = "cli"
CaseRefOpt = Annotated[
    str | None, typer.Option("--case-ref", help="Case reference recorded in the audit log.")
]


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


@flags_app.callback()
def flags(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", help="open, under_review, dismissed, substantiated or withdrawn."),
    ] = None,
    code: Annotated[
        str | None, typer.Option("--code", help="A flag code, e.g. MOCK_LOCATION.")
    ] = None,
    officer_id: Annotated[
        str | None, typer.Option("--officer", help="One officer's flags.")
    ] = None,
    misconduct: Annotated[
        bool | None,
        typer.Option(
            "--misconduct/--compliance", help="Only misconduct leads, or only compliance."
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    case_ref: CaseRefOpt = None,
) -> None:
    """Flags, newest day first, with their status, last reviewer and whether answered. The read
    is recorded in the audit log (role "cli")."""
    if ctx.invoked_subcommand is not None:
        return
    from store import audit
    from store.db import transaction
    from store.reports import list_flags

    fmt = check_format(fmt, ("table", "json"))
    settings = load_settings()
    found: list[dict[str, Any]] = []
    with sessions(settings) as factory, transaction(factory) as session:
        cursor: str | None = None
        while True:
            page, cursor = list_flags(
                session,
                status=status,
                code=code,
                officer_id=officer_id,
                misconduct=misconduct,
                after=cursor,
                limit=1000,
                tz=settings.timezone,
            )
            found.extend(page)
            if cursor is None:
                break
        audit.append(
            session,
            actor=getpass.getuser(),
            role=CLI_ROLE,
            action="read.flags",
            officer_id=officer_id,
            case_ref=case_ref,
            purpose="cli flags",
            request_id=None,
            detail={
                "status": status,
                "code": code,
                "misconduct": misconduct,
                "format": fmt,
                "flags": len(found),
                "officers": len({f["officer_id"] for f in found}),
            },
        )
    if fmt == "json":
        json_out(found)
    else:
        console.print(flags_table(found))


def _record(flag_id: str, tz: str, session: Any) -> dict[str, Any]:
    from store.flag_review import get_flag, pending_proposers, responses, reviews
    from store.reports import flag_dict, with_review_state

    flag = get_flag(session, flag_id)
    history = reviews(session, flag_id)
    (form,) = with_review_state(session, [flag_dict(flag, tz)], tz)
    return {
        "flag": form,
        "reviews": [
            {
                "review_id": r.review_id,
                "at": r.at.astimezone(UTC).isoformat(),
                "actor": r.actor,
                "role": r.role,
                "from_status": r.from_status,
                "to_status": r.to_status,
                "note": r.note,
                "case_ref": r.case_ref,
                "kind": r.kind,
            }
            for r in history
        ],
        "responses": [
            {
                "response_id": a.response_id,
                "at": a.at.astimezone(UTC).isoformat(),
                "actor": a.actor,
                "category": a.category,
                "statement": a.statement,
            }
            for a in responses(session, flag_id)
        ],
        "proposed_by": pending_proposers(history),
    }


def _history_table(record: dict[str, Any]) -> Table:
    table = Table(title="History", show_lines=True)
    for column in ("when", "who", "what", "note / statement"):
        table.add_column(column, overflow="fold")
    rows = [
        (
            r["at"],
            f"{r['actor']} ({r['role']})",
            f"{r['kind']}: {r['from_status']} -> {r['to_status']}"
            + (f"\ncase {r['case_ref']}" if r["case_ref"] else ""),
            r["note"] or "",
        )
        for r in record["reviews"]
    ] + [
        (a["at"], f"{a['actor']} (officer)", f"response: {a['category']}", a["statement"])
        for a in record["responses"]
    ]
    for row in sorted(rows):
        table.add_row(*row)
    return table


@flags_app.command("show")
def show(
    flag_id: Annotated[str, typer.Argument(help="The flag's id.")],
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    case_ref: CaseRefOpt = None,
) -> None:
    """A flag with its whole history: every review and every response of the officer."""
    from store.db import transaction
    from store.flag_review import FlagNotFoundError

    fmt = check_format(fmt, ("table", "json"))
    settings = load_settings()
    record: dict[str, Any] | None
    with sessions(settings) as factory, transaction(factory) as session:
        try:
            record = _record(flag_id, settings.timezone, session)
        except FlagNotFoundError:
            record = None
            audit_cli(
                session,
                "access.refused",
                {"command": "flags show", "status": "not_found", "reason": "no such flag"},
                case_ref=case_ref,
                purpose="cli flags show",
            )
        else:
            audit_cli(
                session,
                "read.flag",
                {
                    "flag_id": flag_id,
                    "reviews": len(record["reviews"]),
                    "responses": len(record["responses"]),
                },
                officer_id=record["flag"]["officer_id"],
                case_ref=case_ref,
                purpose="cli flags show",
            )
    if record is None:
        err_console.print(f"[red]error:[/] no flag {flag_id!r}")
        raise typer.Exit(1)
    if fmt == "json":
        json_out(record)
        return
    console.print(flags_table([record["flag"]], title="Flag"))
    console.print(_history_table(record))
    if record["proposed_by"]:
        console.print(
            f"Substantiation proposed by {', '.join(record['proposed_by'])}: "
            "awaiting another investigator's confirmation."
        )


@flags_app.command("review")
def review(
    flag_id: Annotated[str, typer.Argument(help="The flag's id.")],
    status: Annotated[
        str, typer.Option("--status", help="open, under_review, dismissed or substantiated.")
    ],
    note: Annotated[str, typer.Option("--note", help="The reviewer's note (required).")],
    case_ref: Annotated[str, typer.Option("--case-ref", help="The case the review is for.")],
    expected_status: Annotated[
        str | None,
        typer.Option("--expected-status", help="Refuse unless the flag is in this status."),
    ] = None,
) -> None:
    """Review a flag as the logged-in user. ``substantiated`` takes
    policy.substantiation_reviewers different people: the first proposes, another confirms."""
    from store import audit
    from store.db import transaction
    from store.flag_review import PROPOSAL, FlagNotFoundError, ReviewConflictError, review_flag

    if not note.strip():
        err_console.print("[red]error:[/] --note must not be empty")
        raise typer.Exit(2)
    settings = load_settings()
    policy = load_policy_or_exit(settings)
    actor = getpass.getuser()
    try:
        with sessions(settings) as factory, transaction(factory) as session:
            outcome = review_flag(
                session,
                flag_id,
                to_status=status,
                note=note,
                actor=actor,
                role=CLI_ROLE,
                now=wallclock.utc_now(),
                expected_status=expected_status,
                case_ref=case_ref,
                reviewers_needed=policy.substantiation_reviewers,
            )
            done = outcome.review
            audit.append(
                session,
                actor=actor,
                role=CLI_ROLE,
                action="flag.review",
                officer_id=outcome.flag.officer_id,
                case_ref=case_ref,
                purpose="cli flags review",
                request_id=None,
                detail={
                    "flag_id": flag_id,
                    "from": done.from_status if done else outcome.flag.status,
                    "to": outcome.flag.status,
                    "asked": status,
                    "kind": done.kind if done else None,
                    "changed": done is not None,
                    "note_written": done is not None,
                },
            )
    except FlagNotFoundError as exc:
        err_console.print(f"[red]error:[/] no flag {flag_id!r}")
        raise typer.Exit(1) from exc
    except ReviewConflictError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    except ValueError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if done is None:
        console.print(f"Flag {flag_id} is already {outcome.flag.status}; nothing recorded.")
    elif done.kind == PROPOSAL:
        console.print(
            f"Flag {flag_id}: substantiation proposed by {actor} "
            f"({len(outcome.proposed_by)} of {policy.substantiation_reviewers}); "
            "another investigator must confirm it."
        )
    else:
        console.print(f"Flag {flag_id}: {done.from_status} -> {done.to_status} ({done.kind}).")


def register(app: typer.Typer) -> None:
    """Add the ``flags`` group to the ``rollcall`` application."""
    app.add_typer(flags_app, name="flags")
