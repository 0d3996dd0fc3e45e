"""A worker process that renders SQLite query results for store.dayload.

Rendering rows as text is where SQLite spends a bulk read, and threads of one process contend
inside SQLite (two threads took twice the CPU of one for the same rows) while processes scale.
Run as an isolated script (``python -I store/sqlite_reader.py FILE``: not even its own directory
on the path), so it imports only the standard library and never re-runs the caller's main
module: each request is one JSON line
``[query, params]`` on stdin; each answer is the query's single value as bytes, preceded by its
length (8 bytes, little-endian; all ones and an error name on failure).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

FAILED = (1 << 64) - 1


def _answer(conn: sqlite3.Connection, query: str, params: list[Any]) -> bytes:
    value = conn.execute(query, params).fetchone()[0]
    if value is None:
        return b""
    return value.encode() if isinstance(value, str) else bytes(value)


def serve(path: str, requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer requests on ``requests`` from the SQLite file ``path`` until EOF."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA cache_size=-262144")
    for line in requests:
        query, params = json.loads(line)
        try:
            data = _answer(conn, query, params)
        except sqlite3.Error as exc:
            data = type(exc).__name__.encode() + b"\n"
            answers.write(FAILED.to_bytes(8, "little"))
        else:
            answers.write(len(data).to_bytes(8, "little"))
        answers.write(data)
        answers.flush()


class Reader:
    """One worker process reading the SQLite file ``path``; not shared between threads."""

    def __init__(self, path: str) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__)), path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        if self._proc.stdin is None or self._proc.stdout is None:
            raise RuntimeError("SQLite reader process has no pipes")
        self._in, self._out = self._proc.stdin, self._proc.stdout

    def ask(self, query: str, params: list[Any]) -> bytes:
        """The single value of ``query`` as bytes (empty when NULL)."""
        self._in.write(json.dumps([query, params]).encode() + b"\n")
        self._in.flush()
        head = self._out.read(8)
        if len(head) != 8:
            raise RuntimeError("SQLite reader process ended")
        size = int.from_bytes(head, "little")
        if size == FAILED:
            raise RuntimeError(f"SQLite reader failed: {self._out.readline().decode()}")
        data = self._out.read(size)
        if len(data) != size:
            raise RuntimeError("SQLite reader process ended")
        return data

    def close(self) -> None:
        """End the worker process."""
        self._in.close()
        self._proc.wait()
        self._out.close()


if __name__ == "__main__":
    serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer)
