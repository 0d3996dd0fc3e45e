"""SQLite reads by connectorx in a process of their own, answered as an Arrow IPC stream.

connectorx carries its own copy of the SQLite library. Two copies of SQLite in one process do
not see each other's POSIX locks (SQLite's "How To Corrupt An SQLite Database File", section
2.2.1), so a connectorx read beside this process's sqlite3 connections can miss committed rows
(measured: a delete committed by the process was not seen by its next connectorx read) or worse.
In a separate process it is an ordinary concurrent reader of a WAL database.

Run as ``python -m store.sqlite_arrow``: reads ``{"address": ..., "queries": [...]}`` as JSON on
stdin and writes the rows of every query (run at once, one connection and thread each) as one
Arrow IPC stream on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.ipc

# the directory holding the store package, so the child imports this same code
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PATH = os.environ.get("PYTHONPATH", "")


def read(address: str, queries: Sequence[str]) -> pa.Table:
    """The rows of ``queries`` on the SQLite database at connectorx ``address``, read by a
    child process; its error output is raised as a RuntimeError when it fails."""
    request = json.dumps({"address": address, "queries": list(queries)}).encode()
    with subprocess.Popen(
        [sys.executable, "-m", "store.sqlite_arrow"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, _PATH]))},
    ) as child:
        assert child.stdin is not None and child.stdout is not None and child.stderr is not None
        child.stdin.write(request)
        child.stdin.close()
        try:
            table = pyarrow.ipc.open_stream(child.stdout).read_all()
        except pa.ArrowInvalid:
            table = None
        error = child.stderr.read().decode(errors="replace").strip()
        if child.wait() != 0 or table is None:
            raise RuntimeError(f"SQLite read failed: {error.splitlines()[-1] if error else '?'}")
    return table


def main() -> int:
    import connectorx

    request: dict[str, Any] = json.load(sys.stdin)
    table = connectorx.read_sql(request["address"], request["queries"], return_type="arrow")
    with pyarrow.ipc.new_stream(sys.stdout.buffer, table.schema) as writer:
        for batch in table.to_batches():
            writer.write_batch(batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
