"""``rollcall demo``: a synthetic force built, imported and computed, then what users see."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rollcall.commands.common import audit_cli_read, console, load_policy_or_exit, load_settings
from rollcall.commands.report import compliance_table, officer_tables
from store.db import make_engine, session_factory, transaction

if TYPE_CHECKING:
    from jobs.demo import DemoResult
    from rules.policy import Policy


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
    from jobs.demo import DEMO_DATABASE_URL

    settings = load_settings()
    policy = load_policy_or_exit(settings)
    url = database or DEMO_DATABASE_URL
    console.rule("[bold]Rollcall demo")
    result = _build(url, policy, settings.timezone, officers=officers, days=days)
    counts = result.nightly.counts()
    console.print(
        f"[green]✓[/] nightly job over {len(result.nightly.days)} days: "
        f"{counts['daily']:,} officer-days, {counts['flags_raised']:,} flags raised "
        f"(run {result.nightly.run_id}, {result.seconds['nightly']:.0f} s)"
    )
    _show(url, result, policy, settings.timezone)
    console.rule("[bold]Next")
    console.print(
        next_steps(url, result.first, result.last, result.officer_id),
        soft_wrap=True,  # commands stay on one line, to be copied whole
    )


def _build(url: str, policy: Policy, tz: str, *, officers: int, days: int) -> DemoResult:
    """The demo force built, imported and computed (jobs.demo.run_demo), each step ticked off
    and the nightly job's days counted on a progress bar."""
    from jobs.demo import run_demo

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

        return run_demo(
            policy=policy,
            tz=tz,
            database_url=url,
            officers=officers,
            days=days,
            on_step=on_step,
            on_day=on_day,
        )


def _show(url: str, result: DemoResult, policy: Policy, tz: str) -> None:
    """What HR and an investigator look at first, read from the demo database (the
    investigator's read audited like any other)."""
    from store.reports import compliance_rows, officer_report

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
            session, result.officer_id, result.first, result.last, include_misconduct=True, tz=tz
        )
        assert report is not None
        audit_cli_read(
            session,
            result.officer_id,
            {"from": result.first.isoformat(), "to": result.last.isoformat(), "demo": True},
            None,
        )
    engine.dispose()
    days_table, flag_table = officer_tables(report)
    console.print(days_table)
    console.print(flag_table)


def next_steps(url: str, first: date, last: date, officer_id: str) -> str:
    """The demo's closing tutorial: the commands that explore its database ``url`` (the period
    ``first``..``last`` and the officer shown), start the API and the web app on it, get a token
    and check a signed export. Rich markup; each command on one line."""
    env = f"ROLLCALL_DATABASE_URL={url}"
    return (
        "Everything above came from the demo database "
        f"[bold]{url}[/]. To explore it:\n"
        f"  {env} rollcall report compliance --from {first} --to {last}\n"
        f"  {env} rollcall report officer {officer_id} --from {first} --to {last}\n"
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
        f"'http://127.0.0.1:8000/v1/compliance?from={first}&to={last}'\n"
        "A signed timeline for a case, checked offline with the public key:\n"
        "  TOKEN=$(rollcall token --role investigator --sub you)\n"
        '  curl -H "Authorization: Bearer $TOKEN" -o export.json '
        f"'http://127.0.0.1:8000/v1/officers/{officer_id}/timeline/export"
        f"?from={first}&to={last}&case_ref=DEMO-1'\n"
        "  rollcall timeline verify export.json --public-key export-key.pub\n"
        "OpenAPI docs: http://127.0.0.1:8000/docs\n"
        "The web app on the demo database, with the development sign-in (no token needed):\n"
        f"  {env} ROLLCALL_EXPORT_KEY_FILE=$PWD/export-key.pem rollcall serve --dev-login\n"
        "  then open http://127.0.0.1:8000/app/login and sign in as hr, investigator, auditor, "
        f"or officer with officer id {officer_id}"
    )


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the ``rollcall`` application."""
    app.command("demo")(demo)
