"""What every command shares: the consoles, settings and policy loaded or a clear exit, the
database opened, the common options and the output helpers."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from rollcall.settings import Settings, get_settings
from rules.policy import Policy, PolicyError, load_policy

console = Console()
err_console = Console(stderr=True)


def load_settings() -> Settings:
    """Settings from the environment, or exit 2 naming each bad variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        for err in exc.errors():
            err_console.print(f"[red]error:[/] ROLLCALL_{str(err['loc'][0]).upper()}: {err['msg']}")
        raise typer.Exit(2) from exc


def load_policy_or_exit(settings: Settings) -> Policy:
    """The policy (defaults plus ROLLCALL_POLICY), or exit 2 naming the bad key."""
    try:
        return load_policy(settings.policy)
    except PolicyError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def cli_engine(settings: Settings, *, create: bool = False) -> Engine:
    """The command line's engine: locks held elsewhere are waited for at most
    ``ROLLCALL_DB_LOCK_TIMEOUT_S``; a missing SQLite file is an error unless ``create``."""
    from store.db import make_engine

    return make_engine(
        settings.database_url, lock_timeout_s=settings.db_lock_timeout_s, must_exist=not create
    )


def error_line(message: str) -> None:
    """``error: message`` on stderr as one line (never wrapped, no markup)."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


@contextmanager
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on the command line's engine (:func:`cli_engine`), disposed of at the end."""
    from store.db import session_factory

    engine = cli_engine(settings)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


# --- options ---------------------------------------------------------------------------------

FromOpt = Annotated[str, typer.Option("--from", help="First local day, YYYY-MM-DD.")]
ToOpt = Annotated[str, typer.Option("--to", help="Last local day (inclusive), YYYY-MM-DD.")]
UnitOpt = Annotated[str | None, typer.Option("--unit", help="Only officers of this unit.")]
RankOpt = Annotated[
    str | None, typer.Option("--rank", help="Only officers of this rank (any case).")
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", help="Write to this file instead of stdout.")
]


def signer_or_exit(path: Path | None, missing: str) -> Any:
    """The signer of the key file at ``path`` (``api.signing.Signer``), or exit 2 with
    ``missing`` when no path is given, or with the key's own error when it cannot be loaded."""
    from api.signing import SigningConfigError, load_signer

    if path is None:
        typer.echo(f"error: {missing}", err=True)
        raise typer.Exit(2)
    try:
        return load_signer(path)
    except SigningConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def public_keys_or_exit(values: list[str] | None) -> list[Any]:
    """The trusted public keys given by --public-key (``api.signing.read_public_key`` of each),
    or exit 2 with the first key's error."""
    from api.signing import SigningConfigError, read_public_key

    try:
        return [read_public_key(value) for value in values or []]
    except SigningConfigError as exc:
        typer.echo(f"error: --public-key: {exc}", err=True)
        raise typer.Exit(2) from exc


def parse_day(value: str, option: str) -> date:
    """``value`` as a date, or exit 2 naming the option."""
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        err_console.print(f"[red]error:[/] {option} {value!r} is not a date (YYYY-MM-DD)")
        raise typer.Exit(2) from exc


def period(start: str, end: str) -> tuple[date, date]:
    """--from and --to as dates, or exit 2 when either is not a date or they are reversed."""
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if last < first:
        err_console.print(f"[red]error:[/] --to {last} is before --from {first}")
        raise typer.Exit(2)
    return first, last


def check_format(value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, or exit 2 listing them."""
    if value not in allowed:
        err_console.print(f"[red]error:[/] --format must be one of {', '.join(allowed)}")
        raise typer.Exit(2)
    return value


# --- output ----------------------------------------------------------------------------------


def json_out(document: Any) -> None:
    """``document`` as indented JSON on stdout."""
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def write_bytes(data: bytes, output: Path | None) -> None:
    """``data`` to the file ``output``, or to stdout without it."""
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)


def filter_or_exit(exc: Exception) -> typer.Exit:
    """A bad --unit or --rank said on stderr; the exit (2) for the caller to raise."""
    err_console.print(f"error: {exc}", markup=False, style="red")
    return typer.Exit(2)


# --- audit -----------------------------------------------------------------------------------


def audit_cli(
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


def audit_cli_read(
    session: Session, officer_id: str, detail: dict[str, Any], case_ref: str | None
) -> bool:
    """Record a CLI read of an officer's data in the audit log."""
    audit_cli(
        session,
        "read.attendance",
        detail,
        officer_id=officer_id,
        case_ref=case_ref,
        purpose="cli report officer",
    )
    return True
