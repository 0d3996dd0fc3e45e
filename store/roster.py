"""Reads of the roster and of device and badge assignments, as Polars frames."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from rules.schemas import SHIFTS
from store.models import BadgeAssignment, DeviceAssignment, Shift, ShiftVersion

SHIFT_SCHEMA: dict[str, pl.DataType] = {**SHIFTS, "version": pl.Int64()}
ASSIGNMENT_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.Utf8(),
    "officer_id": pl.Utf8(),
    "valid_from": INSTANT,
    "valid_to": INSTANT,
}


def load_shifts(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    officer_ids: Collection[str] | None = None,
    history: bool = False,
) -> pl.DataFrame:
    """Shifts overlapping [start, end), optionally of some officers only.

    With ``history`` every stored version is returned (with ``version`` and ``recorded_at``),
    otherwise the current version of each shift.
    """
    model = ShiftVersion if history else Shift
    cols = [
        model.shift_id,
        model.officer_id,
        model.start_at,
        model.end_at,
        model.kind,
        model.station_id,
        model.declared_location,
        model.created_at,
        model.updated_at,
        model.version,
    ]
    schema = dict(SHIFT_SCHEMA)
    if history:
        cols.append(ShiftVersion.recorded_at)
        schema["recorded_at"] = INSTANT
    stmt = select(*cols).where(model.start_at < end, model.end_at > start)
    if officer_ids is not None:
        ids = sorted(set(officer_ids))
        if not ids:
            return pl.DataFrame(schema=schema)
        stmt = stmt.where(model.officer_id.in_(ids))
    rows = session.execute(stmt.order_by(model.shift_id, model.version)).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def load_assignments(session: Session, kind: str) -> pl.DataFrame:
    """Every device (``kind="devices"``) or badge (``"badges"``) assignment as item_id, officer_id,
    valid_from, valid_to (null: still assigned)."""
    model = DeviceAssignment if kind == "devices" else BadgeAssignment
    key = model.device_id if model is DeviceAssignment else model.badge_id  # type: ignore[union-attr]
    rows = session.execute(select(key, model.officer_id, model.valid_from, model.valid_to)).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=ASSIGNMENT_SCHEMA, orient="row")


def resolve_officers(
    events: pl.DataFrame, assignments: pl.DataFrame, item_col: str, ts_col: str = "ts"
) -> pl.Series:
    """The officer each event's device or badge was assigned to at its time (null: none).

    An assignment covers [valid_from, valid_to); the latest one starting at or before the event
    wins. Order of ``events`` is preserved.
    """
    if events.is_empty():
        return pl.Series("officer_id", [], pl.Utf8)
    keyed = events.select(
        pl.col(item_col).alias("item_id"), pl.col(ts_col).alias("_ts")
    ).with_row_index("_i")
    if assignments.is_empty():
        return pl.Series("officer_id", [None] * events.height, pl.Utf8)
    joined = (
        keyed.sort("_ts")
        .join_asof(
            assignments.sort("valid_from"),
            left_on="_ts",
            right_on="valid_from",
            by="item_id",
            strategy="backward",
            check_sortedness=False,
        )
        .select(
            "_i",
            officer_id=pl.when(pl.col("valid_to").is_null() | (pl.col("_ts") < pl.col("valid_to")))
            .then(pl.col("officer_id"))
            .otherwise(None),
        )
        .sort("_i")
    )
    return joined["officer_id"]
