"""What every command shares: the consoles, and settings and policy loaded or a clear exit."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy import Engine

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
