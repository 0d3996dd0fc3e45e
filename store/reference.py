"""Writes of the reference kinds (officers, device and badge assignments, overtime claims): new
keys inserted, changed rows updated, unchanged ones counted as duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from store.models import BadgeAssignment, DeviceAssignment, Officer, OvertimeClaim

_REFERENCE: dict[str, tuple[Any, dict[str, str]]] = {
    "officers": (Officer, {}),
    "devices": (DeviceAssignment, {}),
    "badges": (BadgeAssignment, {}),
    "overtime": (OvertimeClaim, {"start": "start_at", "end": "end_at"}),
}


def upsert_reference(
    session: Session, kind: str, rows: pl.DataFrame, key: Sequence[str], now: datetime
) -> tuple[int, int]:
    """Insert the ``rows`` of a reference kind (officers, devices, badges, overtime) whose natural
    ``key`` (file column names) is new, update changed ones; returns (accepted, duplicate).
    Only flushes."""
    model, renames = _REFERENCE[kind]
    key = [renames.get(k, k) for k in key]
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
