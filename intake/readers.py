"""File readers: CSV block by block and Parquet batch by batch, with numbered rows, bad rows
set aside as row errors, and a file that stops part-way reported as such; GeoJSON stations."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from intake.report import FileStoppedError, ImportFileError, RowError

BATCH_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 250_000
FIRST_SPLIT = 4
# A physical line longer than this is a row error, never read (a real row is ~100 bytes); well
# under a read block (BATCH_BYTES // FIRST_SPLIT), which no row may straddle.
MAX_ROW_BYTES = 1 << 20
# How much of the file the long-line filter reads at a time.
SCAN_CHUNK_BYTES = 1 << 20


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, read a mebibyte at a time."""
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


class CsvSource:
    """A CSV file read block by block. Rows with too few or too many fields and rows that are
    not UTF-8 are set aside as row errors (their values are never repeated) and the rest are
    read on; each frame carries ``_row``, the 1-based data row of every record in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[RowError] = []
        self._skipped: set[int] = set()
        self._next_row = 1
        self.header = csv_header(path)
        self._lines: LongLineFilter | None = None

    def _invalid_row(self, row: pacsv.InvalidRow) -> str:
        # ``number`` is the physical line (the header is line 1) when reading serially.
        data_row = (row.number or 0) - 1
        lines = row.text.count("\n")
        if self._lines is not None and row.number in self._lines.replaced:
            reason = f"longer than {self._lines.limit:,} bytes: not read"
        elif lines:
            reason = (
                f"a quote opened on this row is never closed; it and the {lines:,} line(s) "
                "after it were not read"
            )
        else:
            reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        self._skipped.add(data_row)
        self.errors.append(RowError(index=data_row - 1, row=data_row, column=None, reason=reason))
        return "skip"

    def _row_numbers(self, count: int) -> pa.Array:
        """The data rows of the next ``count`` records, stepping over the rows set aside."""
        rows: list[int] = []
        row = self._next_row
        self._skipped = {r for r in self._skipped if r >= row}
        if not self._skipped:
            self._next_row = row + count
            return pa.array(np.arange(row, row + count, dtype=np.uint32))
        while len(rows) < count:
            if row not in self._skipped:
                rows.append(row)
            row += 1
        self._next_row = row
        return pa.array(rows, pa.uint32())

    def batches(self) -> Iterator[pl.DataFrame]:
        self._lines = LongLineFilter(self.path, MAX_ROW_BYTES, len(self.header))
        reader = pacsv.open_csv(
            io.BufferedReader(self._lines, SCAN_CHUNK_BYTES),
            read_options=pacsv.ReadOptions(
                block_size=BATCH_BYTES // FIRST_SPLIT, encoding="utf8", use_threads=False
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=self._invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.binary() for name in self.header},
                strings_can_be_null=False,
            ),
        )
        try:
            yield from first_small(self._decode(batch) for batch in reader)
        finally:
            self._lines.close()

    def _decode(self, batch: pa.RecordBatch) -> pl.DataFrame:
        rows = self._row_numbers(batch.num_rows)
        try:
            text = batch.cast(pa.schema([(n, pa.string()) for n in batch.schema.names]))
        except pa.ArrowInvalid:
            return self._decode_slowly(batch, rows)
        frame: pl.DataFrame = pl.from_arrow(text)  # type: ignore[assignment]
        return frame.with_columns(_row=pl.Series(rows))

    def _decode_slowly(self, batch: pa.RecordBatch, rows: pa.Array) -> pl.DataFrame:
        """A block with bytes that are not UTF-8: those rows become row errors."""
        bad: dict[int, str] = {}
        columns: dict[str, list[str]] = {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            values = []
            for i, raw in enumerate(column.to_pylist()):
                try:
                    values.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    bad.setdefault(i, name)
                    values.append("")
            columns[name] = values
        row_list = rows.to_pylist()
        for i, name in sorted(bad.items()):
            self.errors.append(
                RowError(index=row_list[i] - 1, row=row_list[i], column=name, reason="not UTF-8")
            )
        frame = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.Utf8)).with_columns(
            _row=pl.Series(row_list, dtype=pl.UInt32)
        )
        keep = [i for i in range(frame.height) if i not in bad]
        return frame[keep]


class LongLineFilter(io.RawIOBase):
    """A CSV file's bytes with every physical line longer than ``limit`` bytes replaced by one
    line of ``fields + 1`` empty fields, which the CSV reader sets aside as an invalid row; the
    replaced lines' numbers (1-based, the header is line 1) are in ``replaced``.

    Memory stays bounded by ``limit`` plus a chunk, whatever the line: a 10 MB field is dropped
    as it is read, never held. Lines are found by newline bytes, so a quoted field of many
    short lines is not one long line (the reader stops at it if it outgrows a block)."""

    def __init__(self, path: Path, limit: int, fields: int) -> None:
        super().__init__()
        self.limit = limit
        self.replaced: set[int] = set()
        self._file = path.open("rb")
        self._filler = b"," * fields + b"\n"
        self._line = 1  # the physical line that ``_tail`` belongs to
        self._tail = b""  # the start of a line not yet ended
        self._dropping = False  # inside a long line: its bytes are thrown away up to its end
        self._out = b""
        self._at = 0  # how much of ``_out`` was read
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._at == len(self._out) and not self._eof:
            self._out, self._at = b"".join(self._fill()), 0
        n = min(len(buffer), len(self._out) - self._at)
        buffer[:n] = memoryview(self._out)[self._at : self._at + n]
        self._at += n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()

    def _replaced_line(self) -> bytes:
        self.replaced.add(self._line)
        self._line += 1
        self._dropping = False
        return self._filler

    def _fill(self) -> list[bytes | memoryview]:
        """The next piece of output, from one chunk of the file."""
        chunk = self._file.read(SCAN_CHUNK_BYTES)
        if not chunk:
            self._eof = True
            last = self._replaced_line() if self._dropping else self._tail
            self._tail = b""
            return [last]
        parts: list[bytes | memoryview] = []
        if self._dropping:
            end = chunk.find(b"\n")
            if end < 0:
                return parts
            parts.append(self._replaced_line())
            chunk = chunk[end + 1 :]
        data = self._tail + chunk if self._tail else chunk
        end = data.rfind(b"\n") + 1
        if self._may_hold_long_line(data, end):
            parts.extend(self._lines(data[:end]))
        else:
            parts.append(memoryview(data)[:end])
            self._line += data.count(b"\n", 0, end)
        self._tail = data[end:]
        if len(self._tail) > self.limit:
            self._tail, self._dropping = b"", True
        return parts

    def _may_hold_long_line(self, data: bytes, end: int) -> bool:
        """Whether a line longer than ``limit`` may be in ``data[:end]`` (complete lines): such a
        line covers an aligned window of ``limit // 2`` bytes without a newline. A few searches
        per chunk, so the usual file passes through without being split into lines."""
        step = max(self.limit // 2, 1)
        return end > self.limit and any(
            data.find(b"\n", i, i + step) < 0 for i in range(0, end - step + 1, step)
        )

    def _lines(self, data: bytes) -> list[bytes]:
        parts = []
        for line in data.split(b"\n")[:-1]:
            if len(line) > self.limit:
                parts.append(self._replaced_line())
            else:
                parts.append(line + b"\n")
                self._line += 1
        return parts


MAX_HEADER_BYTES = 64 << 10


def csv_header(path: Path) -> list[str]:
    with path.open("rb") as fh:
        raw = fh.readline(MAX_HEADER_BYTES + 1)
    if len(raw) > MAX_HEADER_BYTES:
        raise ImportFileError(
            path, f"the header row cannot be read (longer than {MAX_HEADER_BYTES:,} bytes)"
        )
    try:
        line = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(path, "the header row is not valid UTF-8 text") from exc
    try:
        header = next(csv.reader([line]), None)
    except csv.Error as exc:
        raise ImportFileError(path, f"the header row cannot be read ({exc})") from exc
    if not header or all(not h.strip() for h in header):
        raise ImportFileError(path, "file is empty: expected a header row and data rows")
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ImportFileError(
            path, f"column(s) named more than once in the header: {', '.join(repeated)}"
        )
    return header


def first_small(pieces: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """The first piece alone, then the rest in groups of FIRST_SPLIT: the writer gets its first
    batch after a quarter of a block's preparation instead of a whole one. When reading fails,
    the pieces read before the failure are still yielded, then the error is raised."""
    group: list[pl.DataFrame] = []
    try:
        for index, piece in enumerate(pieces):
            if index == 0:
                yield piece
                continue
            group.append(piece)
            if len(group) == FIRST_SPLIT:
                yield pl.concat(group)
                group = []
    except Exception:
        if group:
            yield pl.concat(group)
        raise
    if group:
        yield pl.concat(group)


def parquet_batches(path: Path) -> Iterator[pl.DataFrame]:
    try:
        source = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportFileError(path, "not a readable Parquet file") from exc
    names = source.schema_arrow.names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ImportFileError(
            path, f"column(s) named more than once in the file: {', '.join(repeated)}"
        )

    def numbered() -> Iterator[pl.DataFrame]:
        offset = 0
        for batch in source.iter_batches(batch_size=PARQUET_BATCH_ROWS // FIRST_SPLIT):
            frame: pl.DataFrame = pl.from_arrow(batch)  # type: ignore[assignment]
            frame = frame.drop("_row", strict=False).with_row_index("_row", offset=offset + 1)
            offset += frame.height
            yield frame

    yield from first_small(numbered())


def guarded(path: Path, batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """``batches``, turning a failure to read the file part-way into FileStoppedError, whose
    reason never repeats the file's values."""
    next_row = 1
    try:
        for frame in batches:
            if frame.height:
                next_row = int(frame["_row"].max()) + 1  # type: ignore[arg-type]
            yield frame
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc):
            reason = f"a row longer than {BATCH_BYTES // FIRST_SPLIT:,} bytes"
        else:
            reason = "malformed data that cannot be parsed"
        raise FileStoppedError(next_row, reason) from exc
    except (OSError, pa.ArrowException, pl.exceptions.PolarsError) as exc:
        raise FileStoppedError(
            next_row, f"the file cannot be decoded ({type(exc).__name__})"
        ) from exc


def read_features(path: Path) -> list[dict[str, Any]]:
    """The features of a GeoJSON FeatureCollection file (at least one).

    Raises ImportFileError when the file is not one."""
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ImportFileError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportFileError(path, "expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise ImportFileError(path, "the FeatureCollection has no features")
    return features
