"""Reads of the roster and of device and badge assignments, as Polars frames."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from rules.schemas import SHIFTS
from store.models import Shift, ShiftVersion
from store.reader import dialect, read_frame

SHIFT_SCHEMA: dict[str, pl.DataType] = {**SHIFTS, "version": pl.Int64()}
SHIFT_HISTORY_SCHEMA: dict[str, pl.DataType] = {**SHIFT_SCHEMA, "recorded_at": INSTANT}
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
    """Shifts overlapping [start, end), optionally of some officers only, read in bulk.

    With ``history`` every stored version is returned (with ``version`` and ``recorded_at``),
    otherwise the current version of each shift (with ``version``).
    """
    d = dialect(session)
    schema = SHIFT_HISTORY_SCHEMA if history else SHIFT_SCHEMA
    table = "shift_versions" if history else "shifts"
    sql = f"SELECT {d.select_list(schema)} FROM {table} WHERE start_at < {{p}} AND end_at > {{p}}"
    params: list[Any] = [end, start]
    if officer_ids is not None:
        if not officer_ids:
            return pl.DataFrame(schema=schema)
        clause, value = d.in_ids("officer_id", officer_ids)
        sql += clause
        params.append(value)
    return read_frame(session, sql, params, schema).sort("shift_id", "version")


def load_assignments(
    session: Session, kind: str, item_ids: Collection[str] | None = None
) -> pl.DataFrame:
    """Device (``kind="devices"``) or badge (``"badges"``) assignments as item_id, officer_id,
    valid_from, valid_to (null: still assigned); of some devices or badges only if given."""
    d = dialect(session)
    table, key = (
        ("device_assignments", "device_id")
        if kind == "devices"
        else ("badge_assignments", "badge_id")
    )
    columns = {**ASSIGNMENT_SCHEMA}
    columns.pop("item_id")
    sql = f"SELECT {key} AS item_id, {d.select_list(columns)} FROM {table} WHERE 1 = 1"
    params: list[Any] = []
    if item_ids is not None:
        clause, value = d.in_ids(key, item_ids)
        sql += clause
        params.append(value)
    return read_frame(session, sql, params, ASSIGNMENT_SCHEMA)


def current_shifts(session: Session, shift_ids: Sequence[str]) -> dict[str, Shift]:
    """The stored current version of each of ``shift_ids`` that exists, by id (ORM rows, to be
    changed in place by a new version)."""
    current: dict[str, Shift] = {}
    for start in range(0, len(shift_ids), 5000):
        for shift in session.execute(
            select(Shift).where(Shift.shift_id.in_(shift_ids[start : start + 5000]))
        ).scalars():
            current[shift.shift_id] = shift
    return current


def add_shift(session: Session, values: dict[str, Any]) -> Shift:
    """A new shift (its first version's columns) added to the session."""
    shift = Shift(**values)
    session.add(shift)
    return shift


def add_versions(session: Session, versions: list[dict[str, Any]]) -> None:
    """Store shift versions (every column of shift_versions), every version kept."""
    if versions:
        session.execute(insert(ShiftVersion), versions)
