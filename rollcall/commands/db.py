"""``rollcall db``: the schema created or migrated, and online backups of SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rollcall.commands.common import cli_engine, console, error_line, load_settings
from store.migrate import current_revision, upgrade

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


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


def register(app: typer.Typer) -> None:
    """Add the ``db`` group to the ``rollcall`` application."""
    app.add_typer(db_app, name="db")
