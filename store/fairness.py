"""The inputs of the fairness report (rules.fairness) for a period: flags, on-duty days with
their shift pattern, and officers with their unit, rank and device platform."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.clock import day_bounds
from rules.fairness import NIGHT_FROM_HOUR, NIGHT_UNTIL_HOUR
from rules.masking import ON_DUTY_KINDS
from store.dayload import load_daily
from store.models import DeviceAssignment, Flag, Officer, Shift


def load_flags(session: Session, start: date, end: date) -> pl.DataFrame:
    """Flags dated ``start``..``end`` that stand (withdrawn ones left out)."""
    rows = session.execute(
        select(Flag.officer_id, Flag.day, Flag.code, Flag.misconduct, Flag.status).where(
            Flag.day >= start, Flag.day <= end, Flag.withdrawn_at.is_(None)
        )
    ).all()
    schema = {
        "officer_id": pl.Utf8(),
        "date": pl.Date(),
        "code": pl.Utf8(),
        "misconduct": pl.Boolean(),
        "status": pl.Utf8(),
    }
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def load_days(session: Session, start: date, end: date, tz: str) -> pl.DataFrame:
    """Every on-duty officer-day of ``start``..``end`` (a daily result with a declared
    location) and its shift pattern: ``night`` when an on-duty shift starting that local day
    starts at or after 18:00 or before 06:00, ``day`` when one starts otherwise, else null."""
    daily = load_daily(
        session, start, end, ordered=False, columns=("officer_id", "date", "declared_location")
    ).filter(pl.col("declared_location").is_not_null())
    lo, hi = day_bounds(start, tz)[0], day_bounds(end + timedelta(days=1), tz)[0]
    rows = session.execute(
        select(Shift.officer_id, Shift.start_at).where(
            Shift.kind.in_(ON_DUTY_KINDS), Shift.start_at >= lo, Shift.start_at < hi
        )
    ).all()
    shifts = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"officer_id": pl.Utf8(), "start_at": pl.Datetime("us", "UTC")},
        orient="row",
    ).with_columns(local=pl.col("start_at").dt.convert_time_zone(tz))
    hour = pl.col("local").dt.hour()
    patterns = (
        shifts.with_columns(
            date=pl.col("local").dt.date(),
            night=(hour >= NIGHT_FROM_HOUR) | (hour < NIGHT_UNTIL_HOUR),
        )
        .group_by("officer_id", "date")
        .agg(pl.col("night").any())
        .with_columns(
            shift_pattern=pl.when(pl.col("night")).then(pl.lit("night")).otherwise(pl.lit("day"))
        )
        .select("officer_id", "date", "shift_pattern")
    )
    return daily.join(patterns, on=["officer_id", "date"], how="left").select(
        "officer_id", "date", "shift_pattern"
    )


def load_people(session: Session, end: date, tz: str) -> pl.DataFrame:
    """Officers with unit, rank, office_based and the platform of the device they held last
    by the end of the period (null when unknown)."""
    rows = session.execute(
        select(Officer.officer_id, Officer.unit, Officer.rank, Officer.office_based)
    ).all()
    people = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            "officer_id": pl.Utf8(),
            "unit": pl.Utf8(),
            "rank": pl.Utf8(),
            "office_based": pl.Boolean(),
        },
        orient="row",
    )
    hi = day_bounds(end + timedelta(days=1), tz)[0]
    devices = session.execute(
        select(
            DeviceAssignment.officer_id, DeviceAssignment.valid_from, DeviceAssignment.platform
        ).where(DeviceAssignment.valid_from < hi)
    ).all()
    platform = (
        pl.DataFrame(
            [tuple(r) for r in devices],
            schema={
                "officer_id": pl.Utf8(),
                "valid_from": pl.Datetime("us", "UTC"),
                "platform": pl.Utf8(),
            },
            orient="row",
        )
        .sort("valid_from")
        .group_by("officer_id")
        .agg(pl.col("platform").last())
    )
    return people.join(platform, on="officer_id", how="left")


def fairness_report(session: Session, start: date, end: date, tz: str) -> dict[str, object]:
    """The fairness report (rules.fairness) of local days ``start``..``end``."""
    from rules.fairness import fairness

    report = fairness(
        load_flags(session, start, end),
        load_days(session, start, end, tz),
        load_people(session, end, tz),
    )
    return {"from": start.isoformat(), "to": end.isoformat(), **report}
