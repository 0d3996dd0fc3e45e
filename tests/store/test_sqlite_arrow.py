"""SQLite reads in a child process: rows committed by this process are seen, errors are named."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store.sqlite_arrow import Reader, stream


def _database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x INTEGER, name VARCHAR)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"n{i}") for i in range(10)])
    conn.commit()
    return conn


def test_child_sees_what_this_process_committed(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = _database(path)
    queries = ["SELECT x, name FROM t WHERE x < 5", "SELECT x, name FROM t WHERE x >= 5"]
    before = sorted(x for _, t in stream(f"sqlite://{path}", queries) for x in t["x"].to_pylist())
    conn.execute("DELETE FROM t WHERE x % 2 = 0")
    conn.commit()
    pieces = list(stream(f"sqlite://{path}", queries, workers=2, rows=1))
    after = sorted(x for _, t in pieces for x in t["x"].to_pylist())
    assert before == list(range(10))
    assert after == [1, 3, 5, 7, 9]
    assert {k for k, _ in pieces} == {0, 1}
    assert all(t.num_rows for _, t in pieces)


def test_a_failed_read_names_the_error(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    _database(path)
    with pytest.raises(RuntimeError, match="no such column: nope"):
        list(stream(f"sqlite://{path}", ["SELECT nope FROM t"]))
    assert list(stream(f"sqlite://{path}", [])) == []


def test_a_batch_is_split_by_the_query_it_answers() -> None:
    import pyarrow as pa

    from store.sqlite_arrow import _TAG, _by_query

    batch = pa.record_batch({_TAG: [3, 3, 5, 5], "x": [1, 2, 3, 4]})
    pieces = {k: rows.to_pydict() for k, rows in _by_query(batch)}
    assert pieces == {3: {"x": [1, 2]}, 5: {"x": [3, 4]}}
    [(k, rows)] = _by_query(batch.slice(0, 2))
    assert (k, rows.to_pydict()) == (3, {"x": [1, 2]})


def test_a_reader_started_ahead_reads_what_was_committed_since(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = _database(path)
    with Reader(workers=2) as reader:
        # the child opens the database when asked, so it sees this commit
        conn.execute("DELETE FROM t WHERE x < 8")
        conn.commit()
        pieces = list(reader.stream(f"sqlite://{path}", ["SELECT x, name FROM t"]))
        with pytest.raises(RuntimeError, match="reads once"):
            list(reader.stream(f"sqlite://{path}", ["SELECT x FROM t"]))
    assert [(k, t.to_pydict()) for k, t in pieces] == [(0, {"x": [8, 9], "name": ["n8", "n9"]})]


def test_a_reader_never_asked_is_ended() -> None:
    reader = Reader(workers=1)
    child = reader._child
    assert child is not None
    reader.close()
    assert child.returncode is not None
    reader.close()  # a second close does nothing
    with Reader() as unused:
        assert list(unused.stream("sqlite:///nowhere.db", [])) == []


def test_pieces_known_by_their_range_need_no_tag(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    _database(path)
    queries = [
        "SELECT x, name FROM t WHERE x >= 0 AND x < 3",
        "SELECT x, name FROM t WHERE x >= 3 AND x < 4",
        "SELECT x, name FROM t WHERE x >= 4",
    ]
    pieces = list(stream(f"sqlite://{path}", queries, workers=2, ranges=("x", [0, 3, 4])))
    assert all(t.column_names == ["x", "name"] for _, t in pieces)
    by_query = sorted((k, x) for k, t in pieces for x in t["x"].to_pylist())
    assert by_query == [(0, 0), (0, 1), (0, 2), (1, 3), *((2, x) for x in range(4, 10))]
    with pytest.raises(ValueError, match="one start a query"):
        list(stream(f"sqlite://{path}", queries, ranges=("x", [0, 3])))


def test_a_batch_is_split_by_the_range_it_falls_in() -> None:
    import pyarrow as pa

    from store.sqlite_arrow import _by_range

    starts = [10, 20, 30]
    # first and last rows in different ranges: every row goes to its own, the middle too
    batch = pa.record_batch({"ts": [12, 21, 35, 29], "v": [1, 2, 3, 4]})
    pieces = {k: rows.to_pydict() for k, rows in _by_range(batch, "ts", starts)}
    assert pieces == {
        0: {"ts": [12], "v": [1]},
        1: {"ts": [21, 29], "v": [2, 4]},
        2: {"ts": [35], "v": [3]},
    }
    [(k, rows)] = _by_range(batch.slice(1, 1), "ts", starts)
    assert (k, rows.num_rows) == (1, 1)
