"""Intake of CONTRACT §2 records from files or HTTP: validation, keys, masking, holding, storage."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from geo.cells import cell_expr
from geo.fences import GeofenceError
from rules.clock import local_date
from rules.masking import ON_DUTY_KINDS, DutyStatus
from rules.policy import Policy
from store import visit_ingest
from store.clock import batch_receipts, insert_receipts, receipt_probes
from store.db import transaction
from store.held import mask_uncovered, promote_held
from store.load import (
    MASKED_KEYS,
    DeferredIndexes,
    add_masked_counts,
    dialect_insert,
    insert_events,
)
from store.models import (
    BadgeAssignment,
    DeviceAssignment,
    ImportRecord,
    Officer,
    OvertimeClaim,
    RecomputeMark,
    Shift,
    ShiftVersion,
)
from store.models import Station as StationRow
from store.results import mark_computed_days
from store.roster import duty_status_of, load_assignments, resolve_officers
from store.stations import upsert_station
from store.validate import KINDS, MissingColumnsError, dedupe, validate

OUTCOMES = ("accepted", "duplicate", "masked", "held", "rejected")
FILE_KINDS = ("stations", *KINDS)
BATCH_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 250_000
FIRST_SPLIT = 4

Progress = Callable[[int, float], None]


@dataclass(frozen=True)
class RowError:
    """One rejected record: its position, the column at fault (if one) and the reason."""

    index: int  # 0-based position in the batch or request
    row: int  # 1-based data row in the file (header excluded)
    column: str | None
    reason: str


@dataclass
class IngestReport:
    """Counts per outcome and the rejected records of one ingest."""

    kind: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    errors: list[RowError] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        for key, value in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        self.errors.extend(other.errors)

    @property
    def ok(self) -> bool:
        return self.counts["rejected"] == 0


class ImportFileError(ValueError):
    """A file that cannot be read as a whole (missing, empty, wrong encoding, missing columns)."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{path}: {message}")


# --- helpers -----------------------------------------------------------------------------------


def _errors_from(frame: pl.DataFrame, row_offset: int) -> list[RowError]:
    return [
        RowError(index=r - row_offset - 1, row=r, column=c, reason=m)
        for r, c, m in frame.select("_row", "column", "reason").iter_rows()
    ]


def _reject(rows: pl.DataFrame, column: str, reason: str | pl.Expr) -> pl.DataFrame:
    expr = pl.lit(reason) if isinstance(reason, str) else reason
    return rows.select("_row", column=pl.lit(column), reason=expr.cast(pl.Utf8))


# --- reference kinds ---------------------------------------------------------------------------

_REFERENCE: dict[str, tuple[Any, dict[str, str]]] = {
    "officers": (Officer, {}),
    "devices": (DeviceAssignment, {}),
    "badges": (BadgeAssignment, {}),
    "overtime": (OvertimeClaim, {"start": "start_at", "end": "end_at"}),
}


def _upsert_reference(
    session: Session, kind: str, rows: pl.DataFrame, now: datetime
) -> tuple[int, int]:
    """Insert new keys, update changed ones; returns (accepted, duplicate)."""
    model, renames = _REFERENCE[kind]
    key = [renames.get(k, k) for k in KINDS[kind].key]
    data = rows.drop("_row").rename(renames)
    if "updated_at" in model.__table__.c:
        data = data.with_columns(updated_at=pl.lit(now))
    records = data.to_dicts()
    compare = [c for c in data.columns if c != "updated_at"]
    first_key = getattr(model, key[0])
    existing: dict[tuple[Any, ...], dict[str, Any]] = {}
    ids = sorted({r[key[0]] for r in records})
    for start in range(0, len(ids), 5000):
        for obj in session.execute(
            select(model).where(first_key.in_(ids[start : start + 5000]))
        ).scalars():
            existing[tuple(getattr(obj, k) for k in key)] = {c: getattr(obj, c) for c in compare}
    new, changed, same = [], [], 0
    for rec in records:
        old = existing.get(tuple(rec[k] for k in key))
        if old is None:
            new.append(rec)
        elif all(old[c] == rec[c] for c in compare):
            same += 1
        else:
            changed.append(rec)
    if new:
        session.execute(insert(model), new)
    if changed:
        session.execute(update(model), changed)
    return len(new) + len(changed), same


# --- roster ------------------------------------------------------------------------------------

_SHIFT_FIELDS = (
    "officer_id",
    "start_at",
    "end_at",
    "kind",
    "station_id",
    "declared_location",
    "created_at",
    "updated_at",
)


def _ingest_roster(
    session: Session, rows: pl.DataFrame, *, tz: str, policy: Policy, now: datetime
) -> tuple[int, int]:
    """Store new shifts and new versions of changed ones, keeping every version; returns
    (accepted, duplicate). Held events of the officers concerned are re-evaluated and the days
    touched by a change are marked for recomputation."""
    data = rows.drop("_row").rename({"start": "start_at", "end": "end_at"})
    records = data.to_dicts()
    ids = [r["shift_id"] for r in records]
    current: dict[str, Shift] = {}
    for start in range(0, len(ids), 5000):
        for shift in session.execute(
            select(Shift).where(Shift.shift_id.in_(ids[start : start + 5000]))
        ).scalars():
            current[shift.shift_id] = shift
    versions, marks, same = [], set(), 0
    taken: set[tuple[str, datetime, datetime]] = set()  # on-duty windows an edit may take away
    grace = timedelta(minutes=policy.duty_grace_minutes)
    for rec in records:  # in file order: several rows of one shift are successive versions
        old = current.get(rec["shift_id"])
        if old is not None and all(getattr(old, f) == rec[f] for f in _SHIFT_FIELDS):
            same += 1
            continue
        if old is not None and old.kind in ON_DUTY_KINDS:
            taken.add((old.officer_id, old.start_at - grace, old.end_at + grace))
        version = 1 if old is None else old.version + 1
        values = {**rec, "version": version, "recorded_at": now}
        versions.append(values)
        if old is None:
            current[rec["shift_id"]] = Shift(**values)
            session.add(current[rec["shift_id"]])
        else:
            for name, value in values.items():
                setattr(old, name, value)
            marks.add((old.officer_id, old.start_at))
        marks.add((rec["officer_id"], rec["start_at"]))
    if versions:
        session.execute(insert(ShiftVersion), versions)
    session.flush()
    if marks:
        days = (
            pl.DataFrame(
                [(o, s) for o, s in marks],
                schema={"officer_id": pl.Utf8, "ts": pl.Datetime("us", "UTC")},
                orient="row",
            )
            .select("officer_id", day=local_date(pl.col("ts"), tz))
            .unique()
            .sort("officer_id", "day")  # one order for every writer: no deadlock cycles
        )
        for officer_id, day in days.iter_rows():
            # The real time of the write, not the import's start: a nightly run clears only the
            # marks made before it read the day.
            stmt = dialect_insert(session, RecomputeMark).values(
                officer_id=officer_id, day=day, marked_at=datetime.now(UTC), reason="roster change"
            )
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["officer_id", "day"],
                    set_={"marked_at": stmt.excluded.marked_at, "reason": stmt.excluded.reason},
                )
            )
        # Events the old versions put on duty and the new ones do not: as if they arrived now.
        mask_uncovered(session, taken, policy=policy, now=now, tz=tz)
        promote_held(session, policy=policy, now=now, tz=tz, officer_ids={o for o, _ in marks})
    return len(versions), same


# --- events ------------------------------------------------------------------------------------


@dataclass
class PreparedEvents:
    """A batch of pings or swipes checked and sorted into on duty, held and masked, not yet stored."""

    kind: str
    report: IngestReport
    on: pl.DataFrame
    held: pl.DataFrame
    masked: pl.DataFrame
    receipts: pl.DataFrame | None = None  # device receipts of an HTTP batch (store.clock)


def _prepare_events(
    session: Session,
    kind: str,
    rows: pl.DataFrame,
    *,
    policy: Policy,
    now: datetime,
    received_at: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """Resolve officers and classify duty status (reads only); returns (on, held, masked,
    rejections, receipts). ``received_at`` (pings over HTTP): each device's officer is also
    checked on duty at that instant, in the same roster read, and receipts
    (store.clock.batch_receipts) are made for the devices that were."""
    item = "device_id" if kind == "pings" else "badge_id"
    assignments = load_assignments(
        session, "devices" if kind == "pings" else "badges", rows[item].unique().to_list()
    )
    rows = rows.with_columns(officer_id=resolve_officers(rows, assignments, item))
    unknown = rows.filter(pl.col("officer_id").is_null())
    rejected = [
        _reject(
            unknown,
            item,
            pl.format(
                "{} {} is not assigned to any officer at this time",
                pl.lit("device" if kind == "pings" else "badge"),
                pl.col(item),
            ),
        )
    ]
    rows = rows.filter(pl.col("officer_id").is_not_null())
    skew = policy.max_future_skew_minutes
    future = pl.col("ts") > pl.lit(now + timedelta(minutes=skew)).cast(pl.Datetime("us", "UTC"))
    rejected.append(_reject(rows.filter(future), "ts", f"more than {skew} minutes in the future"))
    rows = rows.filter(~future)
    if kind == "swipes" and rows.height:
        known = sorted(set(session.execute(select(StationRow.station_id)).scalars()))
        bad_station = rows.filter(~pl.col("station_id").is_in(known))
        rejected.append(
            _reject(
                bad_station, "station_id", pl.format("unknown station {}", pl.col("station_id"))
            )
        )
        rows = rows.filter(pl.col("station_id").is_in(known))
    probes = None
    if received_at is not None and kind == "pings":
        probes = receipt_probes(rows, received_at)
        status = duty_status_of(
            session,
            pl.concat([rows.select("officer_id", "ts"), probes.select("officer_id", "ts")]),
            policy=policy,
            now=now,
        )
        rows = rows.with_columns(_status=status.head(rows.height))
        probes = probes.with_columns(_status=status.tail(probes.height))
    else:
        rows = rows.with_columns(_status=duty_status_of(session, rows, policy=policy, now=now))
    if kind == "pings":
        rows = rows.with_columns(h3_cell=cell_expr().cast(pl.Int64))
    on = rows.filter(pl.col("_status") == DutyStatus.ON_DUTY.value)
    held = rows.filter(pl.col("_status") == DutyStatus.HELD.value).with_columns(
        held_at=pl.lit(now).cast(pl.Datetime("us", "UTC"))
    )
    key = MASKED_KEYS["ping" if kind == "pings" else "swipe"]
    masked = rows.filter(pl.col("_status") == DutyStatus.MASKED.value).select(key)
    receipts = None
    if probes is not None and received_at is not None:
        on_duty = probes.filter(pl.col("_status") == DutyStatus.ON_DUTY.value)
        receipts = batch_receipts(on, on_duty, received_at, policy=policy)
    return on, held, masked, pl.concat(rejected), receipts


def _split_expired(
    rows: pl.DataFrame, *, policy: Policy, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows to keep, rejections of rows already older than retention_days_raw): a purge would
    have removed them, so they are never stored, counted or held."""
    cutoff = now - timedelta(days=policy.retention_days_raw)
    old = rows.filter(pl.col("ts") < cutoff)
    reason = f"older than the raw retention period ({policy.retention_days_raw} days): not stored"
    return rows.filter(pl.col("ts") >= cutoff), _reject(old, "ts", reason)


def prepare_batch(
    session: Session,
    kind: str,
    frame: pl.DataFrame,
    *,
    tz: str,
    policy: Policy,
    now: datetime,
    row_offset: int = 0,
    received_at: datetime | None = None,
) -> PreparedEvents:
    """Validate a batch of pings or swipes and decide each one's fate, reading but not writing.

    ``received_at``: when the server received the batch (HTTP ingest); a batch of pings then
    also yields each device's receipt (store.clock.batch_receipts).
    Raises MissingColumnsError when a required column is absent.
    """
    report = IngestReport(kind)
    frame = _numbered(frame, row_offset)
    checked = validate(kind, frame, tz=tz)
    first, repeats, conflicts = dedupe(kind, checked.good)
    report.counts["duplicate"] += repeats.height
    first, too_old = _split_expired(first, policy=policy, now=now)
    on, held, masked, rejected, receipts = _prepare_events(
        session, kind, first, policy=policy, now=now, received_at=received_at
    )
    _record_rejections(
        report, [checked.errors, _conflicts(kind, conflicts), too_old, rejected], row_offset
    )
    return PreparedEvents(kind, report, on, held, masked, receipts)


def write_batch(
    session: Session,
    prepared: PreparedEvents,
    *,
    tz: str,
    count_masked: bool = True,
    deferred: DeferredIndexes | None = None,
) -> IngestReport:
    """Store a prepared batch: on-duty events, held events, and the masked count. Only flushes.

    ``deferred``: a bulk load's partitions whose index it builds at the end (store.load)."""
    kind, report = prepared.kind, prepared.report
    inserted = insert_events(session, kind, prepared.on, deferred)
    held_inserted = insert_events(session, f"held_{kind}", prepared.held)
    report.counts["accepted"] += inserted
    report.counts["held"] += held_inserted
    report.counts["duplicate"] += (prepared.on.height - inserted) + (
        prepared.held.height - held_inserted
    )
    report.counts["masked"] += prepared.masked.height
    if inserted:
        mark_computed_days(
            session,
            prepared.on.select("officer_id", "ts"),
            tz=tz,
            reason=f"late {kind}",
            marked_at=datetime.now(UTC),
        )
    if count_masked:
        add_masked_counts(session, prepared.masked, "ping" if kind == "pings" else "swipe", tz)
    if prepared.receipts is not None:
        insert_receipts(session, prepared.receipts)
    session.flush()
    return report


def _conflicts(kind: str, conflicts: pl.DataFrame) -> pl.DataFrame:
    return _reject(
        conflicts, KINDS[kind].key[-1], "same key as an earlier row of this batch with other values"
    )


def _record_rejections(report: IngestReport, parts: list[pl.DataFrame], row_offset: int) -> None:
    errors = pl.concat([r.cast({"_row": pl.UInt32}) for r in parts]).sort("_row", "column")
    report.counts["rejected"] = errors["_row"].n_unique()
    report.errors = _errors_from(errors, row_offset)


def _numbered(frame: pl.DataFrame, row_offset: int) -> pl.DataFrame:
    """``frame`` with ``_row`` (1-based data row): a file reader's own numbering when it gave one
    (rows it set aside keep their numbers), otherwise counted from ``row_offset``."""
    if "_row" in frame.columns:
        return frame.with_columns(pl.col("_row").cast(pl.UInt32))
    return frame.with_row_index("_row", offset=row_offset + 1)


# --- public entry points -----------------------------------------------------------------------


def ingest_frame(
    session: Session,
    kind: str,
    frame: pl.DataFrame,
    *,
    tz: str,
    policy: Policy,
    now: datetime,
    row_offset: int = 0,
    count_masked: bool = True,
    received_at: datetime | None = None,
) -> IngestReport:
    """Validate and store one batch of ``kind`` records (CONTRACT §2 column names).

    ``received_at``: when the server received the batch over HTTP (pings: recorded per device
    for its clock offset, store.clock).

    Bad rows are reported (index, row, column, reason) and the rest still go through; rows whose
    natural key is already stored are duplicates; pings and swipes outside every on-duty window
    are masked (only counted) or held. Only flushes: the caller commits or rolls back.
    Raises MissingColumnsError when a required column is absent.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if frame.is_empty():
        return IngestReport(kind)
    if kind in ("pings", "swipes"):
        prepared = prepare_batch(
            session,
            kind,
            frame,
            tz=tz,
            policy=policy,
            now=now,
            row_offset=row_offset,
            received_at=received_at,
        )
        return write_batch(session, prepared, tz=tz, count_masked=count_masked)
    if kind == "visits":
        return _ingest_visits(
            session,
            frame,
            tz=tz,
            policy=policy,
            now=now,
            row_offset=row_offset,
            count_masked=count_masked,
        )
    report = IngestReport(kind)
    frame = _numbered(frame, row_offset)
    checked = validate(kind, frame, tz=tz)
    first, repeats, conflicts = dedupe(kind, checked.good)
    report.counts["duplicate"] += repeats.height
    if kind == "roster":
        accepted, same = _ingest_roster(session, first, tz=tz, policy=policy, now=now)
    else:
        accepted, same = _upsert_reference(session, kind, first, now)
    report.counts["accepted"] += accepted
    report.counts["duplicate"] += same
    _record_rejections(report, [checked.errors, _conflicts(kind, conflicts)], row_offset)
    session.flush()
    return report


def _ingest_visits(
    session: Session,
    frame: pl.DataFrame,
    *,
    tz: str,
    policy: Policy,
    now: datetime,
    row_offset: int,
    count_masked: bool,
) -> IngestReport:
    """Visits: each cut at its officer's on-duty edges; on-duty pieces stored, uncovered recent
    ones held, the rest only counted (store.visit_ingest). Each visit has one outcome."""
    report = IngestReport("visits")
    frame = _numbered(frame, row_offset)
    checked = validate("visits", frame, tz=tz)
    first, repeats, conflicts = dedupe("visits", checked.good)
    report.counts["duplicate"] += repeats.height
    rows, rejected = visit_ingest.check_visits(session, first, policy=policy, now=now)
    pieces = visit_ingest.pieces_of(
        session, rows.rename({"_row": "_visit"}), policy=policy, now=now
    )
    settled = visit_ingest.settle(
        session, pieces, held_at=pl.lit(now), tz=tz, reason="late visits", count=count_masked
    )
    report.counts["accepted"] += len(settled.accepted)
    report.counts["duplicate"] += len(settled.duplicate)
    report.counts["held"] += len(settled.held)
    report.counts["masked"] += len(settled.masked)
    _record_rejections(
        report, [checked.errors, _conflicts("visits", conflicts), *rejected], row_offset
    )
    session.flush()
    return report


def ingest_stations(
    session: Session, features: list[dict[str, Any]], *, now: datetime
) -> IngestReport:
    """Validate and store GeoJSON station features; each bad feature is reported and skipped."""
    report = IngestReport("stations")
    for index, feature in enumerate(features):
        try:
            with session.begin_nested():
                _, changed = upsert_station(session, feature, now=now)
        except GeofenceError as exc:
            report.errors.append(RowError(index, index + 1, "geometry", str(exc)))
            report.counts["rejected"] += 1
            continue
        report.counts["accepted" if changed else "duplicate"] += 1
    return report


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


class _CsvSource:
    """A CSV file read block by block. Rows with too few or too many fields and rows that are
    not UTF-8 are set aside as row errors (their values are never repeated) and the rest are
    read on; each frame carries ``_row``, the 1-based data row of every record in it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.errors: list[RowError] = []
        self._skipped: set[int] = set()
        self._next_row = 1
        self.header = _csv_header(path)

    def _invalid_row(self, row: pacsv.InvalidRow) -> str:
        # ``number`` is the physical line (the header is line 1) when reading serially.
        data_row = (row.number or 0) - 1
        lines = row.text.count("\n")
        if lines:
            reason = (
                f"a quote opened on this row is never closed; it and the {lines:,} line(s) "
                "after it were not read"
            )
        else:
            reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        self._skipped.add(data_row)
        self.errors.append(RowError(index=data_row - 1, row=data_row, column=None, reason=reason))
        return "skip"

    def _row_numbers(self, count: int) -> list[int]:
        """The data rows of the next ``count`` records, stepping over the rows set aside."""
        rows: list[int] = []
        row = self._next_row
        self._skipped = {r for r in self._skipped if r >= row}
        if not self._skipped:
            self._next_row = row + count
            return list(range(row, row + count))
        while len(rows) < count:
            if row not in self._skipped:
                rows.append(row)
            row += 1
        self._next_row = row
        return rows

    def batches(self) -> Iterator[pl.DataFrame]:
        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(
                block_size=BATCH_BYTES // FIRST_SPLIT, encoding="utf8", use_threads=False
            ),
            parse_options=pacsv.ParseOptions(invalid_row_handler=self._invalid_row),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.binary() for name in self.header},
                strings_can_be_null=False,
            ),
        )
        yield from _first_small(self._decode(batch) for batch in reader)

    def _decode(self, batch: pa.RecordBatch) -> pl.DataFrame:
        rows = pa.array(self._row_numbers(batch.num_rows), pa.uint32())
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


MAX_HEADER_BYTES = 64 << 10


def _csv_header(path: Path) -> list[str]:
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


def _first_small(pieces: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
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


def _parquet_batches(path: Path) -> Iterator[pl.DataFrame]:
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

    yield from _first_small(numbered())


class FileStoppedError(Exception):
    """Reading a file failed part-way; ``row`` is the first data row not read."""

    def __init__(self, row: int, reason: str) -> None:
        self.row = row
        self.reason = reason
        super().__init__(f"reading stopped at data row {row:,} ({reason} at or after that row)")


class ImportStoppedError(ImportFileError):
    """An import that committed part of a file and could not read the rest; ``report`` holds what
    was committed."""

    def __init__(self, path: Path, stopped: FileStoppedError, report: IngestReport) -> None:
        self.report = report
        done = ", ".join(f"{report.counts.get(o, 0):,} {o}" for o in OUTCOMES)
        super().__init__(
            path,
            f"{stopped}. Stored before that: {done}. Nothing after that row was read; correct the "
            "file and import it again (rows already stored count as duplicates, masked events "
            "are not counted again).",
        )


def _guarded(path: Path, batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
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


BatchResults = Iterator[tuple[int, IngestReport]]


def _record_batches(
    factory: sessionmaker[Session],
    kind: str,
    batches: Iterator[pl.DataFrame],
    *,
    tz: str,
    policy: Policy,
    now: datetime,
    count_masked: bool,
) -> BatchResults:
    """Reference kinds and the roster: one transaction per batch, in order."""
    offset = 0
    for frame in batches:
        with transaction(factory) as session:
            part = ingest_frame(
                session,
                kind,
                frame,
                tz=tz,
                policy=policy,
                now=now,
                row_offset=offset,
                count_masked=count_masked,
            )
        offset += frame.height
        yield frame.height, part


def _prepare_in_own_session(
    factory: sessionmaker[Session],
    kind: str,
    frame: pl.DataFrame,
    *,
    tz: str,
    policy: Policy,
    now: datetime,
    row_offset: int,
) -> PreparedEvents:
    with factory() as session, session.begin():
        return prepare_batch(
            session, kind, frame, tz=tz, policy=policy, now=now, row_offset=row_offset
        )


def _event_batches(
    factory: sessionmaker[Session],
    kind: str,
    batches: Iterator[pl.DataFrame],
    *,
    tz: str,
    policy: Policy,
    now: datetime,
    count_masked: bool,
) -> BatchResults:
    """Pings and swipes, pipelined: batch N+1 is validated and classified on a worker thread
    while batch N is written; each write is its own transaction, in file order. The (officer_id,
    ts) index of the ping partitions written is built once all batches are in, also when the file
    stops early (a bad header, an interrupt)."""
    deferred = DeferredIndexes()
    offset = 0
    pending: tuple[Future[PreparedEvents], int] | None = None
    stopped: FileStoppedError | None = None
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rollcall-prepare") as pool:
            for frame in _until_stopped(batches):
                if isinstance(frame, FileStoppedError):
                    stopped = frame
                    break
                future = pool.submit(
                    _prepare_in_own_session,
                    factory,
                    kind,
                    frame,
                    tz=tz,
                    policy=policy,
                    now=now,
                    row_offset=offset,
                )
                offset += frame.height
                if pending is not None:
                    yield (
                        pending[1],
                        _write_prepared(factory, pending[0].result(), tz, count_masked, deferred),
                    )
                pending = (future, frame.height)
            if pending is not None:
                yield (
                    pending[1],
                    _write_prepared(factory, pending[0].result(), tz, count_masked, deferred),
                )
    finally:
        if deferred.partitions:
            with transaction(factory) as session:
                deferred.build(session)
    if stopped is not None:
        raise stopped


def _until_stopped(
    batches: Iterator[pl.DataFrame],
) -> Iterator[pl.DataFrame | FileStoppedError]:
    """``batches``, then the FileStoppedError that ended them early, if one did: the batch read
    before it is still written."""
    try:
        yield from batches
    except FileStoppedError as exc:
        yield exc


def _write_prepared(
    factory: sessionmaker[Session],
    prepared: PreparedEvents,
    tz: str,
    count_masked: bool,
    deferred: DeferredIndexes,
) -> IngestReport:
    with transaction(factory) as session:
        return write_batch(session, prepared, tz=tz, count_masked=count_masked, deferred=deferred)


def ingest_file(
    factory: sessionmaker[Session],
    kind: str,
    path: Path | str,
    *,
    tz: str,
    policy: Policy,
    now: datetime,
    progress: Progress | None = None,
) -> IngestReport:
    """Import one file, committing batch by batch so memory does not grow with the file's size.

    Raises ImportFileError when the file as a whole cannot be read; otherwise returns the report
    (its errors name the 1-based data row and the column). Importing the same file again changes
    nothing and does not count its masked events twice.
    """
    path = Path(path)
    if kind not in FILE_KINDS:
        raise ImportFileError(
            path, f"unknown kind {kind!r}; expected one of {', '.join(FILE_KINDS)}"
        )
    if not path.is_file():
        raise ImportFileError(path, "no such file")
    if path.stat().st_size == 0:
        raise ImportFileError(path, "file is empty: expected a header row and data rows")
    digest = _digest(path)
    with transaction(factory) as session:
        seen = session.execute(
            select(ImportRecord.import_id).where(
                ImportRecord.kind == kind, ImportRecord.sha256 == digest
            )
        ).first()
    report = IngestReport(kind)
    if kind == "stations":
        report = _import_geojson(factory, path, now)
    else:
        csv_source = None if path.suffix.lower() == ".parquet" else _CsvSource(path)
        batches = _guarded(
            path, _parquet_batches(path) if csv_source is None else csv_source.batches()
        )
        size = path.stat().st_size
        step = _event_batches if kind in ("pings", "swipes") else _record_batches
        offset, read = 0, 0.0
        try:
            for height, part in step(
                factory, kind, batches, tz=tz, policy=policy, now=now, count_masked=seen is None
            ):
                report.merge(part)
                # The first block is a FIRST_SPLIT-th of the others (_first_small).
                read += BATCH_BYTES / (FIRST_SPLIT if offset == 0 else 1)
                offset += height
                if progress is not None:
                    progress(offset, min(1.0, read / size))
        except MissingColumnsError as exc:
            raise ImportFileError(path, str(exc)) from exc
        except FileStoppedError as exc:
            _add_reader_errors(report, csv_source)
            if offset == 0:
                raise ImportFileError(path, f"{exc}; nothing was stored") from exc
            raise ImportStoppedError(path, exc, report) from exc
        _add_reader_errors(report, csv_source)
        if offset == 0 and not report.errors:
            raise ImportFileError(path, "file has a header row but no data rows")
    with transaction(factory) as session:
        session.add(
            ImportRecord(
                kind=kind,
                file_name=path.name,
                sha256=digest,
                imported_at=now,
                counts=dict(report.counts),
            )
        )
    return report


def _add_reader_errors(report: IngestReport, source: _CsvSource | None) -> None:
    """The rows the CSV reader set aside, as row errors of the report, in row order."""
    if source is None or not source.errors:
        return
    report.errors = sorted([*report.errors, *source.errors], key=lambda e: (e.row, e.column or ""))
    report.counts["rejected"] += len(source.errors)
    source.errors = []


def _import_geojson(factory: sessionmaker[Session], path: Path, now: datetime) -> IngestReport:
    try:
        doc = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ImportFileError(path, f"not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ImportFileError(path, "expected a GeoJSON FeatureCollection")
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise ImportFileError(path, "the FeatureCollection has no features")
    with transaction(factory) as session:
        return ingest_stations(session, features, now=now)
