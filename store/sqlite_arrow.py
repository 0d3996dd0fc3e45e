"""SQLite reads by connectorx in a process of their own, answered as an Arrow IPC stream.

connectorx carries its own copy of the SQLite library. Two copies of SQLite in one process do
not see each other's POSIX locks (SQLite's "How To Corrupt An SQLite Database File", section
2.2.1), so a connectorx read beside this process's sqlite3 connections can miss committed rows
(measured: a delete committed by the process was not seen by its next connectorx read) or worse.
In a separate process it is an ordinary concurrent reader of a WAL database.

Run as ``python -m store.sqlite_arrow``: reads ``{"address": ..., "queries": [...]}`` as JSON on
stdin and writes the rows of every query (``workers`` at once, a connection and thread each) as
one Arrow IPC stream on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.ipc

# the directory holding the store package, so the child imports this same code
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PATH = os.environ.get("PYTHONPATH", "")


def stream(
    address: str, queries: Sequence[str], *, workers: int = 2, rows: int = 1 << 20
) -> Iterator[tuple[int, pa.Table]]:
    """The rows of ``queries`` on the SQLite database at connectorx ``address``, read by a child
    process (``workers`` queries at once), as (query number, table of at most about ``rows``
    rows) in the order they arrive (each can be used and dropped before the next, so this process
    never holds the whole result twice). A failed read raises RuntimeError with the child's last
    error line."""
    if not queries:
        return
    request = json.dumps(
        {"address": address, "queries": list(queries), "workers": workers}
    ).encode()
    with subprocess.Popen(
        [sys.executable, "-m", "store.sqlite_arrow"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, _PATH]))},
    ) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        assert child.stderr is not None
        child.stdin.write(request)
        child.stdin.close()
        complete = False
        try:
            batches: list[pa.RecordBatch] = []
            held, current = 0, -1
            reader = pyarrow.ipc.open_stream(child.stdout)
            while True:
                try:
                    batch, tag = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    break
                query = int(tag[b"query"])
                if batches and (held >= rows or query != current):
                    yield current, pa.Table.from_batches(batches)
                    batches, held = [], 0
                batches.append(batch)
                held, current = held + batch.num_rows, query
            if batches:
                yield current, pa.Table.from_batches(batches)
            complete = True
        except pa.ArrowInvalid:
            pass
        finally:
            if not complete:
                child.kill()
        error = child.stderr.read().decode(errors="replace").strip()
        if child.wait() != 0 or not complete:
            raise RuntimeError(f"SQLite read failed: {error.splitlines()[-1] if error else '?'}")


def main() -> int:
    from concurrent.futures import ThreadPoolExecutor, as_completed

    import connectorx

    request: dict[str, Any] = json.load(sys.stdin)
    address, queries = request["address"], request["queries"]
    writer: Any = None
    schema: Any = None
    with ThreadPoolExecutor(max(1, int(request.get("workers", 2)))) as pool:
        futures = {
            pool.submit(connectorx.read_sql, address, q, return_type="arrow"): k
            for k, q in enumerate(queries)
        }
        for future in as_completed(futures):
            table = future.result()
            tag = {"query": str(futures[future])}
            if writer is None:
                schema = table.schema
                writer = pyarrow.ipc.new_stream(sys.stdout.buffer, schema)
            elif table.schema != schema:
                table = table.cast(schema)
            for batch in table.to_batches():
                writer.write_batch(batch, custom_metadata=tag)
    if writer is not None:
        writer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
