"""Online backup of an SQLite database (SQLite's backup API: every committed write, those still in
the WAL included, while the service keeps running)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import make_url

PAGES_PER_STEP = 4096


class BackupError(RuntimeError):
    """The backup cannot be made (wrong backend, existing target, unreadable source)."""


PG_GUIDANCE = (
    "the database is PostgreSQL: back it up with pg_dump, e.g. `pg_dump --format=custom "
    "--file=rollcall.dump <database>` (consistent while the service runs), and restore into an "
    "empty database with `pg_restore --dbname=<database> rollcall.dump` after `CREATE EXTENSION "
    "postgis`; see README, Backups"
)


def sqlite_path(url: str) -> Path:
    """The file of an SQLite URL; BackupError for any other backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(PG_GUIDANCE)
    if not parsed.database or parsed.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(parsed.database)


def backup_sqlite(url: str, target: Path) -> int:
    """Copy the SQLite database of ``url`` to ``target`` (a new file) with the online backup
    API, check the copy (PRAGMA quick_check) and move it into place; returns its size in bytes.
    Readers and writers of the source carry on meanwhile; the copy holds every write committed
    when the backup finished."""
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"no database file at {source_path}")
    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file name")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy, pages=PAGES_PER_STEP)
            copy.execute("PRAGMA journal_mode=DELETE")
            ok = copy.execute("PRAGMA quick_check").fetchone()
        finally:
            copy.close()
    finally:
        source.close()
    if ok is None or ok[0] != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError("the copy did not pass SQLite's quick_check; nothing was written")
    os.replace(partial, target)
    return target.stat().st_size
