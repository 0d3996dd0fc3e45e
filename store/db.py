"""Engines and sessions: built from settings on demand, never at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker


class DatabaseMissingError(RuntimeError):
    """An SQLite database file that does not exist (only `rollcall db upgrade` creates one)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"no database file at {path}: run `rollcall db upgrade` to create it, or point "
            "ROLLCALL_DATABASE_URL at the right one"
        )


def make_engine(
    url: str,
    *,
    lock_timeout_s: float | None = None,
    statement_timeout_s: float | None = None,
    must_exist: bool = False,
    **kwargs: Any,
) -> Engine:
    """An engine for ``url``. SQLite gets WAL, foreign keys and a busy timeout for concurrent use.

    ``lock_timeout_s``: how long a statement waits for another session's lock before failing
    (PostgreSQL ``lock_timeout``, SQLite's busy timeout; default 30 s on SQLite, none on
    PostgreSQL). ``statement_timeout_s``: PostgreSQL ``statement_timeout``. ``must_exist``: an
    SQLite file that does not exist raises DatabaseMissingError instead of being created empty.
    """
    if url.startswith("sqlite"):
        path = make_url(url).database
        if must_exist and path and path != ":memory:" and not Path(path).exists():
            raise DatabaseMissingError(path)
        timeout = 30.0 if lock_timeout_s is None else lock_timeout_s
        engine = create_engine(url, connect_args={"timeout": timeout}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # 256 MiB of page cache: bulk loads update indexes in random order.
            cur.execute("PRAGMA cache_size=-262144")
            cur.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    options = []
    if lock_timeout_s is not None:
        options.append(f"-c lock_timeout={int(lock_timeout_s * 1000)}")
    if statement_timeout_s is not None:
        options.append(f"-c statement_timeout={int(statement_timeout_s * 1000)}")
    if options:
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args["options"] = " ".join([connect_args.get("options", ""), *options]).strip()
        kwargs["connect_args"] = connect_args
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that do not expire objects on commit (results are read after the commit)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error.

    Entry points (CLI commands, request dependencies, jobs) own the transaction through this;
    store functions only flush.
    """
    with factory() as session, session.begin():
        yield session


def is_postgres(session_or_engine: Session | Engine) -> bool:
    """Whether the connection is PostgreSQL (PostGIS) rather than SQLite."""
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"
