"""Roster intake: a changed shift becomes a new version (every version kept), the days it touches
are marked for recomputation and the events it moves on or off duty are decided again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy.orm import Session

from intake.held import mask_uncovered, promote_held
from rules.clock import local_date
from rules.masking import ON_DUTY_KINDS
from rules.policy import Policy
from store.results import mark_day
from store.roster import add_shift, add_versions, current_shifts

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


def ingest_roster(
    session: Session, rows: pl.DataFrame, *, tz: str, policy: Policy, now: datetime
) -> tuple[int, int]:
    """Store new shifts and new versions of changed ones, keeping every version; returns
    (accepted, duplicate). Held events of the officers concerned are re-evaluated and the days
    touched by a change are marked for recomputation."""
    data = rows.drop("_row").rename({"start": "start_at", "end": "end_at"})
    records = data.to_dicts()
    ids = [r["shift_id"] for r in records]
    current = current_shifts(session, ids)
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
            current[rec["shift_id"]] = add_shift(session, values)
        else:
            for name, value in values.items():
                setattr(old, name, value)
            marks.add((old.officer_id, old.start_at))
        marks.add((rec["officer_id"], rec["start_at"]))
    add_versions(session, versions)
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
            mark_day(session, officer_id, day, reason="roster change", marked_at=datetime.now(UTC))
        # Events the old versions put on duty and the new ones do not: as if they arrived now.
        mask_uncovered(session, taken, policy=policy, now=now, tz=tz)
        promote_held(session, policy=policy, now=now, tz=tz, officer_ids={o for o, _ in marks})
    return len(versions), same
