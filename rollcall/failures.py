"""One line saying what went wrong and what to do, for a command that failed: no traceback and
nothing of the data (database messages are reduced to what the server or file is and why)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from store.db import DatabaseMissingError

_SCHEMA = "run `rollcall db upgrade` first"
_RETRY = "what was committed before stays; run the same command again"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _sqlstate(orig: BaseException | None) -> str | None:
    return getattr(orig, "sqlstate", None)


def _postgres(orig: BaseException, lock_timeout_s: float) -> str | None:
    state = _sqlstate(orig)
    if state == "55P03":
        return (
            f"gave up after waiting {lock_timeout_s:g} s for a lock another process holds on the "
            "data (an import, a purge or a schema change); run the command again when it has "
            "finished, or raise ROLLCALL_DB_LOCK_TIMEOUT_S"
        )
    if state == "57014":
        return "the database cancelled a statement that ran past its time limit; " + _RETRY
    if state == "42P01":
        return f"the database has no Rollcall schema or an older one; {_SCHEMA}"
    if state in ("57P01", "57P02", "57P03") or (state or "").startswith("08"):
        return f"the database connection was lost ({_first_line(orig)}); {_RETRY}"
    text = str(orig).lower()
    if state is None and ("closed" in text or "terminat" in text or "lost" in text):
        return f"the database connection was lost ({_first_line(orig)}); {_RETRY}"
    if state is None and "connection" in text:
        return (
            f"cannot reach the database: {_first_line(orig)}; check ROLLCALL_DATABASE_URL and "
            "that the server is running"
        )
    return None


def _sqlite(orig: BaseException, lock_timeout_s: float) -> str | None:
    text = str(orig).lower()
    if "locked" in text or "busy" in text:
        return (
            f"gave up after waiting {lock_timeout_s:g} s for another process writing to the "
            "SQLite database; run the command again when it has finished, or raise "
            "ROLLCALL_DB_LOCK_TIMEOUT_S"
        )
    if "no such table" in text or "no such column" in text:
        return f"the database has no Rollcall schema or an older one; {_SCHEMA}"
    if "unable to open" in text or "readonly" in text or "disk" in text:
        return f"cannot use the SQLite database file: {_first_line(orig)}"
    return None


def describe(exc: BaseException, *, lock_timeout_s: float) -> str:
    """What went wrong, in one line, with what to do about it."""
    if isinstance(exc, DatabaseMissingError):
        return str(exc)
    raw_driver = type(exc).__module__.startswith(("sqlite3", "psycopg"))
    if (isinstance(exc, DBAPIError) and exc.orig is not None) or raw_driver:
        orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
        module = type(orig).__module__
        found = (
            _sqlite(orig, lock_timeout_s)
            if module.startswith("sqlite3")
            else _postgres(orig, lock_timeout_s)
        )
        if found is not None:
            return found
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return f"the database connection was lost; {_RETRY}"
        return f"the database refused the command ({type(orig).__name__}); {_RETRY}"
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"a connection failed ({type(exc).__name__}: {_first_line(exc)})"
    return (
        f"unexpected {type(exc).__name__}; nothing more is printed because the message could "
        "hold data: run again with ROLLCALL_TRACEBACK=1 to see where it happened"
    )
