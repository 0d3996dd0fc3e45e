"""Stored and held events (pings, swipes) and visits, read and removed by key: what intake's
decisions on held events, roster edits and visits read and change."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.orm import Session

from store.load import PING_COLUMNS, SWIPE_COLUMNS
from store.models import HeldPing, HeldSwipe, HeldVisit, Ping, Swipe, Visit
from store.reader import dialect

_INSTANT = pl.Datetime("us", "UTC")
# Keys per DELETE or SELECT ... IN: well below every backend's limit on bound parameters.
_CHUNK = 2_000

EventModel = type[Ping] | type[Swipe] | type[HeldPing] | type[HeldSwipe]
HELD: dict[str, tuple[type[HeldPing] | type[HeldSwipe], tuple[str, ...]]] = {
    "pings": (HeldPing, PING_COLUMNS),
    "swipes": (HeldSwipe, SWIPE_COLUMNS),
}
STORED: dict[str, type[Ping] | type[Swipe]] = {"pings": Ping, "swipes": Swipe}
EVENT_KEYS = {"pings": ("device_id", "ts"), "swipes": ("badge_id", "ts", "reader_id")}
VISIT_KEY = ("device_id", "arrived_at")
Window = tuple[str, datetime, datetime]  # officer_id, start, end (inclusive)


def delete_keys(session: Session, model: Any, key: Sequence[str], keys: pl.DataFrame) -> None:
    """Delete the rows of ``model`` whose ``key`` columns match a row of ``keys``."""
    values = [tuple(r) for r in keys.select(key).iter_rows()]
    cols = tuple_(*[getattr(model, c) for c in key])
    for start in range(0, len(values), _CHUNK):
        session.execute(delete(model).where(cols.in_(values[start : start + _CHUNK])))


def delete_held_before(session: Session, model: Any, cutoff: datetime) -> None:
    """Delete the rows of a held table (held events or visits) held before ``cutoff``."""
    session.execute(delete(model).where(model.held_at < cutoff))


def _frame(rows: list[tuple[Any, ...]], columns: Sequence[str]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=list(columns), orient="row")
    return frame.with_columns(pl.col("ts").cast(_INSTANT))


def held_events(
    session: Session,
    kind: str,
    officer_ids: Collection[str] | None,
    held_before: datetime | None = None,
) -> pl.DataFrame:
    """Held events of ``kind`` (pings or swipes; the event columns), of some officers or all,
    and only those held before ``held_before`` if given."""
    model, columns = HELD[kind]
    stmt = select(*[getattr(model, c) for c in columns])
    if held_before is not None:
        stmt = stmt.where(model.held_at < held_before)
    if officer_ids is not None:
        stmt = stmt.where(model.officer_id.in_(sorted(officer_ids)))
    return _frame([tuple(r) for r in session.execute(stmt).all()], columns)


def events_in_windows(session: Session, kind: str, windows: Collection[Window]) -> pl.DataFrame:
    """Stored events of ``kind`` of each window's officer with start <= ts <= end, each once."""
    model = STORED[kind]
    _, columns = HELD[kind]
    rows: list[tuple[object, ...]] = []
    for officer_id, start, end in sorted(windows):
        stmt = select(*[getattr(model, c) for c in columns]).where(
            model.officer_id == officer_id, model.ts >= start, model.ts <= end
        )
        rows += [tuple(r) for r in session.execute(stmt).all()]
    return _frame(rows, columns).unique(subset=EVENT_KEYS[kind], maintain_order=True)


def visit_states(
    session: Session, model: type[Visit] | type[HeldVisit], keys: pl.DataFrame
) -> dict[tuple[str, datetime], bool]:
    """(device_id, arrived_at) -> departure_known of the stored rows of ``model`` among ``keys``."""
    values = [tuple(r) for r in keys.select(VISIT_KEY).iter_rows()]
    found: dict[tuple[str, datetime], bool] = {}
    cols = tuple_(model.device_id, model.arrived_at)
    for start in range(0, len(values), _CHUNK):
        stmt = select(model.device_id, model.arrived_at, model.departure_known).where(
            cols.in_(values[start : start + _CHUNK])
        )
        for device_id, arrived_at, known in session.execute(stmt):
            found[(device_id, arrived_at)] = bool(known)
    return found


def insert_visits(
    session: Session,
    model: type[Visit] | type[HeldVisit],
    rows: list[dict[str, Any]],
    key: Sequence[str],
) -> None:
    """Insert visit pieces, skipping any whose ``key`` (the table's unique index) is stored."""
    if rows:
        stmt = dialect(session).insert(model).on_conflict_do_nothing(index_elements=list(key))
        session.execute(stmt, rows)


def complete_visits(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Give stored pieces whose departure was assumed the departure ``rows`` know."""
    for row in rows:
        session.execute(
            update(Visit)
            .where(
                Visit.device_id == row["device_id"],
                Visit.arrived_at == row["arrived_at"],
                Visit.departure_known.is_(False),
            )
            .values(departed_at=row["departed_at"], departure_known=True)
        )


def held_visits(
    session: Session,
    columns: Sequence[str],
    officer_ids: Collection[str] | None,
    held_before: datetime | None = None,
) -> list[tuple[Any, ...]]:
    """``columns`` of held visit pieces, of some officers or all, held before ``held_before``
    if given."""
    stmt = select(*[getattr(HeldVisit, c) for c in columns])
    if officer_ids is not None:
        stmt = stmt.where(HeldVisit.officer_id.in_(sorted(officer_ids)))
    if held_before is not None:
        stmt = stmt.where(HeldVisit.held_at < held_before)
    return [tuple(r) for r in session.execute(stmt).all()]


def visits_in_windows(
    session: Session, columns: Sequence[str], windows: Collection[Window]
) -> list[tuple[Any, ...]]:
    """``columns`` of the stored visit pieces of each window's officer overlapping it."""
    rows: list[tuple[Any, ...]] = []
    for officer_id, start, end in sorted(windows):
        stmt = select(*[getattr(Visit, c) for c in columns]).where(
            Visit.officer_id == officer_id, Visit.arrived_at <= end, Visit.departed_at >= start
        )
        rows += [tuple(r) for r in session.execute(stmt).all()]
    return rows
