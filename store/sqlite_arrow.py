"""SQLite reads by connectorx in a process of their own, answered as an Arrow IPC stream.

connectorx carries its own copy of the SQLite library. Two copies of SQLite in one process do
not see each other's POSIX locks (SQLite's "How To Corrupt An SQLite Database File", section
2.2.1), so a connectorx read beside this process's sqlite3 connections can miss committed rows
(measured: a delete committed by the process was not seen by its next connectorx read) or worse.
In a separate process it is an ordinary concurrent reader of a WAL database.

Run as ``python -m store.sqlite_arrow``: reads ``{"address": ..., "queries": [...]}`` (and
``"ranges"``, see ``stream``) as JSON on stdin and writes the rows of every query as one Arrow
IPC stream on stdout, each batch tagged with its query's number. The queries are read in one connectorx call, ``workers`` at once on
connectorx's own threads: connectorx holds the interpreter lock while it reads, so reads started
from several Python threads ran one after another (measured: two threads took as long as one).
"""

from __future__ import annotations

import bisect
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

# the directory holding the store package, so the child imports this same code
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PATH = os.environ.get("PYTHONPATH", "")
# the column the child adds to every query to know which query each batch of rows answers
_TAG = "_rollcall_query"
# (column, starts): query k reads the rows whose integer column lies in [starts[k], starts[k + 1])
Ranges = tuple[str, Sequence[int]]
# rows per batch connectorx hands over (and the child writes)
_BATCH_ROWS = 65_536


class Reader:
    """A reading child process started ahead of its queries: its start-up (an interpreter
    importing pyarrow and connectorx, about 0.1 CPU-s) runs while the caller does other work
    until it knows what to read (``stream``). One use; ``close`` ends a child never used."""

    def __init__(self, *, workers: int = 2) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [_ROOT, _PATH])),
            # connectorx reads the queries on rayon's threads
            "RAYON_NUM_THREADS": str(max(1, workers)),
        }
        self._child: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "store.sqlite_arrow"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """End the child if it was never asked to read (a read ends it itself)."""
        child, self._child = self._child, None
        if child is not None:
            with child:
                child.kill()

    def stream(
        self,
        address: str,
        queries: Sequence[str],
        *,
        rows: int = 1 << 20,
        ranges: Ranges | None = None,
    ) -> Iterator[tuple[int, pa.Table]]:
        """The rows of ``queries`` on the SQLite database at connectorx ``address`` (see the
        module function ``stream``), read by this child."""
        child, self._child = self._child, None
        if child is None:
            raise RuntimeError("a SQLite reader reads once")
        if not queries:
            with child:
                child.kill()
            return
        with child:
            yield from _answers(child, address, queries, rows, ranges)


def stream(
    address: str,
    queries: Sequence[str],
    *,
    workers: int = 2,
    rows: int = 1 << 20,
    ranges: Ranges | None = None,
) -> Iterator[tuple[int, pa.Table]]:
    """The rows of ``queries`` on the SQLite database at connectorx ``address``, read by a child
    process (``workers`` queries at once), as (query number, table of at most about ``rows``
    rows) in the order they arrive (each can be used and dropped before the next, so this process
    never holds the whole result twice). A failed read raises RuntimeError with the child's last
    error line.

    The child tells which query a batch of rows answers by a literal column it adds to every
    query; ``ranges`` (column, starts), when query k reads only rows whose integer ``column`` lies
    in [starts[k], starts[k + 1]) (the last one from its start on, starts ascending), tells it by
    that column instead, which the queries read anyway: the tag column costs 410 instructions a
    row, about 5% of the read (callgrind, bench/README.md)."""
    if not queries:
        return
    with Reader(workers=workers) as reader:
        yield from reader.stream(address, queries, rows=rows, ranges=ranges)


def _answers(
    child: subprocess.Popen[bytes],
    address: str,
    queries: Sequence[str],
    rows: int,
    ranges: Ranges | None,
) -> Iterator[tuple[int, pa.Table]]:
    """What ``child`` (a started reader) answers to ``queries``: sends the request, reads the
    IPC stream back (module function ``stream``)."""
    import pyarrow as pa
    import pyarrow.ipc

    assert child.stdin is not None
    assert child.stdout is not None
    assert child.stderr is not None
    ask: dict[str, Any] = {"address": address, "queries": list(queries)}
    if ranges is not None:
        column, starts = ranges
        if len(starts) != len(queries) or list(starts) != sorted(starts):
            raise ValueError("ranges need one start a query, ascending")
        ask["ranges"] = {"column": column, "starts": [int(x) for x in starts]}
    request = json.dumps(ask).encode()
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


def _by_query(batch: pa.RecordBatch) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``batch``'s rows by the query they answer (its first column, _TAG), without that column.
    connectorx hands over each query's rows in batches of their own, so a batch whose first and
    last rows answer the same query is one piece (and pyarrow.compute is not imported)."""
    tags = batch.column(0)
    rows = batch.drop_columns([_TAG])
    first, last = tags[0].as_py(), tags[-1].as_py()
    if first == last:
        yield int(first), rows
        return
    import pyarrow.compute as pc

    for value in pc.unique(tags).to_pylist():
        yield int(value), rows.filter(pc.equal(tags, value))


def _by_range(
    batch: pa.RecordBatch, column: str, starts: list[int]
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``batch``'s rows by the query they answer, query k reading the rows whose ``column`` lies
    in [starts[k], starts[k + 1]). As for _by_query, a batch whose first and last rows answer
    the same query is one piece (connectorx hands over each query's rows in batches of their
    own), and pyarrow.compute is imported only for one that does not."""
    keys = batch.column(column)
    first = bisect.bisect_right(starts, keys[0].as_py()) - 1
    last = bisect.bisect_right(starts, keys[-1].as_py()) - 1
    if first == last:
        yield first, batch
        return
    import pyarrow.compute as pc

    low, high = (v.as_py() for v in pc.min_max(keys).values())
    first = max(0, bisect.bisect_right(starts, low) - 1)
    last = bisect.bisect_right(starts, high) - 1
    for k in range(first, last + 1):
        inside = pc.greater_equal(keys, starts[k])
        if k + 1 < len(starts):
            inside = pc.and_(inside, pc.less(keys, starts[k + 1]))
        rows = batch.filter(inside)
        if rows.num_rows:
            yield k, rows


def main() -> int:
    # pyarrow imports numpy whenever it is installed, for conversions this process never makes;
    # kept out, the child starts on half the CPU time (0.1 s instead of 0.2 s)
    sys.modules["numpy"] = None  # type: ignore[assignment]
    import connectorx
    import pyarrow.ipc

    request: dict[str, Any] = json.load(sys.stdin)
    ranges = request.get("ranges")
    queries = list(request["queries"])
    if ranges is None:
        queries = [f"SELECT {k} AS {_TAG}, * FROM ({q})" for k, q in enumerate(queries)]
    reader = connectorx.read_sql(
        request["address"], queries, return_type="arrow_stream", batch_size=_BATCH_ROWS
    )
    schema = reader.schema if ranges is not None else reader.schema.remove(0)
    with pyarrow.ipc.new_stream(sys.stdout.buffer, schema) as writer:
        for batch in reader:
            if not batch.num_rows:
                continue
            pieces = (
                _by_query(batch)
                if ranges is None
                else _by_range(batch, ranges["column"], ranges["starts"])
            )
            for k, rows in pieces:
                writer.write_batch(rows, custom_metadata={"query": str(k)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
