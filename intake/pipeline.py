"""Intake of CONTRACT §2 records from files or HTTP: a file read in batches, each validated,
keyed and sorted by duty status on a worker thread while the batch before it is written."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.orm import Session, sessionmaker

from geo.fences import GeofenceError
from intake import readers, visits
from intake.duty import sort_by_duty, split_expired
from intake.readers import CsvSource, file_digest, guarded, parquet_batches, read_features
from intake.report import (
    FileStoppedError,
    ImportFileError,
    ImportStoppedError,
    IngestReport,
    Progress,
    RowError,
    errors_from,
    reject,
)
from intake.roster import ingest_roster
from intake.validate import KINDS, MissingColumnsError, dedupe, validate
from rules.policy import Policy
from store.clock import insert_receipts
from store.db import transaction
from store.imports import imported_before, record_import
from store.load import DeferredIndexes, NewDayTables, add_masked_counts, insert_events
from store.reference import upsert_reference
from store.results import mark_computed_days
from store.stations import upsert_station

FILE_KINDS = ("stations", *KINDS)


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
    first, too_old = split_expired(first, policy=policy, now=now)
    on, held, masked, rejected, receipts = sort_by_duty(
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
    return reject(
        conflicts, KINDS[kind].key[-1], "same key as an earlier row of this batch with other values"
    )


def _record_rejections(report: IngestReport, parts: list[pl.DataFrame], row_offset: int) -> None:
    errors = pl.concat([r.cast({"_row": pl.UInt32}) for r in parts]).sort("_row", "column")
    report.counts["rejected"] = errors["_row"].n_unique()
    report.errors = errors_from(errors, row_offset)


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
        accepted, same = ingest_roster(session, first, tz=tz, policy=policy, now=now)
    else:
        accepted, same = upsert_reference(session, kind, first, KINDS[kind].key, now)
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
    ones held, the rest only counted (intake.visits). Each visit has one outcome."""
    report = IngestReport("visits")
    frame = _numbered(frame, row_offset)
    checked = validate("visits", frame, tz=tz)
    first, repeats, conflicts = dedupe("visits", checked.good)
    report.counts["duplicate"] += repeats.height
    rows, rejected = visits.check_visits(session, first, policy=policy, now=now)
    pieces = visits.pieces_of(session, rows.rename({"_row": "_visit"}), policy=policy, now=now)
    settled = visits.settle(
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
    while batch N is written; each write is its own transaction, in file order, except the pings
    of days that had no partition yet: those go into tables of the load's own, in one
    transaction, keyed, indexed and attached once all batches are in (store.load.NewDayTables),
    also when the file stops early (a bad row); an error or an interrupt rolls them back, and the
    file imported again loads them. The (officer_id, ts) index of existing partitions written
    that lack it is built at the end in any case."""
    deferred = DeferredIndexes(new_days=NewDayTables())
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
        assert deferred.new_days is not None
        repeated = deferred.new_days.finish()
        if repeated:
            yield 0, _stored_elsewhere(kind, repeated)
    finally:
        if deferred.new_days is not None:
            deferred.new_days.close()
        if deferred.partitions:
            with transaction(factory) as session:
                deferred.build(session)
    if stopped is not None:
        raise stopped


def _stored_elsewhere(kind: str, rows: int) -> IngestReport:
    """The correction, once a load's new days are attached, for ``rows`` counted accepted that
    were duplicates after all (a key in two blocks of the file, or stored by another writer)."""
    report = IngestReport(kind)
    report.counts["accepted"] -= rows
    report.counts["duplicate"] += rows
    return report


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
    digest = file_digest(path)
    with transaction(factory) as session:
        seen = imported_before(session, kind, digest)
    report = IngestReport(kind)
    if kind == "stations":
        report = _import_geojson(factory, path, now)
    else:
        csv_source = None if path.suffix.lower() == ".parquet" else CsvSource(path)
        batches = guarded(
            path, parquet_batches(path) if csv_source is None else csv_source.batches()
        )
        size = path.stat().st_size
        step = _event_batches if kind in ("pings", "swipes") else _record_batches
        offset, read = 0, 0.0
        try:
            for height, part in step(
                factory, kind, batches, tz=tz, policy=policy, now=now, count_masked=not seen
            ):
                report.merge(part)
                # The first block is a FIRST_SPLIT-th of the others (readers.first_small).
                read += readers.BATCH_BYTES / (readers.FIRST_SPLIT if offset == 0 else 1)
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
        record_import(
            session,
            kind=kind,
            file_name=path.name,
            sha256=digest,
            imported_at=now,
            counts=dict(report.counts),
        )
    return report


def _add_reader_errors(report: IngestReport, source: CsvSource | None) -> None:
    """The rows the CSV reader set aside, as row errors of the report, in row order."""
    if source is None or not source.errors:
        return
    report.errors = sorted([*report.errors, *source.errors], key=lambda e: (e.row, e.column or ""))
    report.counts["rejected"] += len(source.errors)
    source.errors = []


def _import_geojson(factory: sessionmaker[Session], path: Path, now: datetime) -> IngestReport:
    features = read_features(path)
    with transaction(factory) as session:
        return ingest_stations(session, features, now=now)
