"""Bulk PostgreSQL reads for store.dayload through asyncpg: a query's COPY output in large chunks.

psycopg hands a COPY's output over one row at a time, about 1.5 microseconds of Python per row:
most of the client's CPU in a read of millions of fixes, taken from the rules computing at the
same time. asyncpg passes on, in one call, every row that has arrived (tens of thousands of calls
for millions of rows), which cuts the client's share of such a read about threefold. Only the
nightly job's parallel reads use it; everything else reads through the session (psycopg).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy import URL

# Session settings of a reading connection: room for an exact bitmap of an officer partition's
# rows (the default 4 MB goes lossy at a few million rows, and every row of a lossy page is
# checked again), and no JIT compilation (about half a second per query, for plans that spend
# their time reading pages).
READ_SETTINGS = {"work_mem": "64MB", "jit": "off"}


def dsn(url: URL) -> str:
    """The libpq-style address of the SQLAlchemy ``url`` (any driver name), password included."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def numbered(sql: str) -> str:
    """``sql`` with each ``{p}`` placeholder written as asyncpg's ``$1``, ``$2``, ..."""
    parts = sql.split("{p}")
    out = [parts[0]]
    for i, part in enumerate(parts[1:], start=1):
        out.append(f"${i}{part}")
    return "".join(out)


class Reader:
    """One connection with its own event loop, opened on first use; one thread at a time."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Any = None

    def ask(self, query: str, params: Sequence[Any]) -> bytes:
        """The rows of ``query`` (``$n`` placeholders) as CSV text, NULL written ``\\N``."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._conn = self._loop.run_until_complete(
                asyncpg.connect(self._address, server_settings=READ_SETTINGS)
            )
        return self._loop.run_until_complete(self._copy(query, params))

    async def _copy(self, query: str, params: Sequence[Any]) -> bytes:
        chunks: list[bytes] = []

        async def sink(data: bytes) -> None:
            chunks.append(data)

        await self._conn.copy_from_query(query, *params, output=sink, format="csv", null="\\N")
        return b"".join(chunks)

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            if self._conn is not None:
                self._loop.run_until_complete(self._conn.close())
        finally:
            self._loop.close()
            self._loop = None
