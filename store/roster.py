"""Reads of the roster and of device and badge assignments, as Polars frames."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from rules.masking import duty_status
from rules.policy import Policy
from rules.schemas import SHIFTS
from store.dayload import _select_list as select_list
from store.dayload import read_frame
from store.db import is_postgres

SHIFT_SCHEMA: dict[str, pl.DataType] = {**SHIFTS, "version": pl.Int64()}
SHIFT_HISTORY_SCHEMA: dict[str, pl.DataType] = {**SHIFT_SCHEMA, "recorded_at": INSTANT}
ASSIGNMENT_SCHEMA: dict[str, pl.DataType] = {
    "item_id": pl.Utf8(),
    "officer_id": pl.Utf8(),
    "valid_from": INSTANT,
    "valid_to": INSTANT,
}


def _id_filter(column: str, ids: Collection[str], postgres: bool) -> tuple[str, Any]:
    """A one-parameter ``column IN ids`` for either backend (an array, or a JSON list on SQLite)."""
    values = sorted(set(ids))
    if postgres:
        return f" AND {column} = ANY({{p}})", values
    return f" AND {column} IN (SELECT value FROM json_each({{p}}))", json.dumps(values)


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
    postgres = is_postgres(session)
    schema = SHIFT_HISTORY_SCHEMA if history else SHIFT_SCHEMA
    table = "shift_versions" if history else "shifts"
    sql = f"SELECT {select_list(schema, postgres)} FROM {table} WHERE start_at < {{p}} AND end_at > {{p}}"
    params: list[Any] = [end, start]
    if officer_ids is not None:
        if not officer_ids:
            return pl.DataFrame(schema=schema)
        clause, value = _id_filter("officer_id", officer_ids, postgres)
        sql += clause
        params.append(value)
    return read_frame(session, sql, params, schema).sort("shift_id", "version")


def load_assignments(
    session: Session, kind: str, item_ids: Collection[str] | None = None
) -> pl.DataFrame:
    """Device (``kind="devices"``) or badge (``"badges"``) assignments as item_id, officer_id,
    valid_from, valid_to (null: still assigned); of some devices or badges only if given."""
    postgres = is_postgres(session)
    table, key = (
        ("device_assignments", "device_id")
        if kind == "devices"
        else ("badge_assignments", "badge_id")
    )
    columns = {**ASSIGNMENT_SCHEMA}
    columns.pop("item_id")
    sql = f"SELECT {key} AS item_id, {select_list(columns, postgres)} FROM {table} WHERE 1 = 1"
    params: list[Any] = []
    if item_ids is not None:
        clause, value = _id_filter(key, item_ids, postgres)
        sql += clause
        params.append(value)
    return read_frame(session, sql, params, ASSIGNMENT_SCHEMA)


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


def duty_status_of(
    session: Session, events: pl.DataFrame, *, policy: Policy, now: datetime
) -> pl.Series:
    """Each event's duty status (on duty, masked, held) against the roster stored now.

    ``events`` has ``officer_id`` and ``ts``; the shifts read are those of its officers within a
    day of its time span (CONTRACT §3).
    """
    if events.is_empty():
        return pl.Series("duty_status", [], pl.Utf8)
    lo: datetime = events["ts"].min()  # type: ignore[assignment]
    hi: datetime = events["ts"].max()  # type: ignore[assignment]
    shifts = load_shifts(
        session,
        start=lo - timedelta(days=1),
        end=hi + timedelta(days=1),
        officer_ids=events["officer_id"].unique().to_list(),
    )
    return duty_status(
        events,
        shifts,
        grace_minutes=policy.duty_grace_minutes,
        hold_hours=policy.unrostered_hold_hours,
        now=now,
    )
