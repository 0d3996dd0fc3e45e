"""Operating-system visits (arrived, departed, place, accuracy) as location evidence."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from rules.clock import INSTANT
from rules.masking import DutyStatus, covered, on_duty_windows, rostered_windows
from rules.records import VISIT

VISIT_SOURCE = "visit"
VISITS: dict[str, pl.DataType] = VISIT.polars(
    ("device_id", "officer_id", "arrived_at", "departed_at", "lat", "lon", "accuracy_m")
)


def visit_fixes(
    visits: pl.DataFrame, step_minutes: int, open_until: timedelta = timedelta(hours=12)
) -> pl.DataFrame:
    """One fix-like row every ``step_minutes`` of each visit, from arrival to departure (both
    included), at the visit's place with its accuracy and source "visit".

    A visit is the operating system's summary of a stay at one place (iOS reports it when the
    phone is otherwise silent), so it stands for the whole stay. A visit without a departure
    (still there when reported) stands for at most ``open_until`` after arrival. The rows are
    masked and classified like any fix: off-duty parts of a visit disappear, and the place is
    judged against station fences by rules.evidence (visit rows are not smoothed with their
    neighbours: each already summarises many fixes). Columns: device_id, officer_id, ts, lat,
    lon, accuracy_m, source, is_mock.
    """
    if visits.is_empty():
        return pl.DataFrame(
            schema={
                "device_id": pl.Utf8(),
                "officer_id": pl.Utf8(),
                "ts": INSTANT,
                "lat": pl.Float64(),
                "lon": pl.Float64(),
                "accuracy_m": pl.Float64(),
                "source": pl.Utf8(),
                "is_mock": pl.Boolean(),
            }
        )
    step = timedelta(minutes=step_minutes)
    ends = pl.coalesce("departed_at", pl.col("arrived_at") + open_until)
    ends = pl.min_horizontal(ends, pl.col("arrived_at") + timedelta(days=2))
    rows = visits.with_columns(
        ts=pl.datetime_ranges("arrived_at", ends, interval=step, closed="both")
    )
    rows = rows.with_columns(
        ts=pl.when(pl.col("departed_at").is_not_null())
        .then(pl.concat_list("ts", pl.col("departed_at").cast(INSTANT)).list.unique())
        .otherwise(pl.col("ts"))
    )
    return (
        rows.explode("ts")
        .select(
            "device_id",
            "officer_id",
            pl.col("ts").cast(INSTANT),
            "lat",
            "lon",
            "accuracy_m",
            source=pl.lit(VISIT_SOURCE),
            is_mock=pl.lit(False),
        )
        .unique(["device_id", "ts"], keep="first", maintain_order=True)
        .sort("officer_id", "device_id", "ts")
    )


# A visit reported without a departure (the phone is still there) is taken to last this long at
# most, at intake as in visit_fixes.
OPEN_FOR = timedelta(hours=12)
PIECES: dict[str, pl.DataType] = {
    "_visit": pl.UInt32(),
    "status": pl.Utf8(),
    "arrived_at": INSTANT,
    "departed_at": INSTANT,
}


def _cut_points(
    visits: pl.DataFrame, shifts: pl.DataFrame, grace_minutes: int, hold_from: datetime
) -> pl.DataFrame:
    """(_visit, t): each visit's arrival and end, and every edge of its officer's on-duty and
    rostered windows, and the hold horizon, that falls strictly inside it."""
    windows = pl.concat(
        [on_duty_windows(shifts, grace_minutes), rostered_windows(shifts)], how="vertical"
    )
    edges = windows.select(
        "officer_id", t=pl.concat_list(pl.col("start_at"), pl.col("end_at"))
    ).explode("t", empty_as_null=True)
    inner = (
        visits.select("_visit", "officer_id", "arrived_at", "_end")
        .join(edges, on="officer_id")
        .filter((pl.col("t") > pl.col("arrived_at")) & (pl.col("t") < pl.col("_end")))
        .select("_visit", "t")
    )
    horizon = visits.filter(
        (pl.col("arrived_at") < hold_from) & (pl.col("_end") > hold_from)
    ).select("_visit", t=pl.lit(hold_from).cast(INSTANT))
    ends = visits.select("_visit", t=pl.col("arrived_at")), visits.select("_visit", t="_end")
    return pl.concat([*ends, inner, horizon]).unique().sort("_visit", "t")


def split_by_duty(
    visits: pl.DataFrame,
    shifts: pl.DataFrame,
    *,
    grace_minutes: int,
    hold_hours: int,
    now: datetime,
) -> pl.DataFrame:
    """Each visit cut into the pieces CONTRACT §3 treats alike: on duty (kept), held (no shift
    says anything about that time yet, and it is recent) and masked (off duty, or unrostered
    past the hold).

    ``visits`` has ``_visit`` (a row id), ``officer_id``, ``arrived_at`` and ``departed_at``
    (null: still there, taken to last OPEN_FOR); ``shifts`` the officer's shifts around them.
    A visit crossing the edge of an on-duty window is clipped to it: the piece before or after
    is off duty and never stored. Returns PIECES rows, one per maximal run of one status, in
    time order per visit; a piece's ``departed_at`` is where it stops (the visit's departure,
    or the window edge, or the assumed end of an open visit).
    """
    if visits.is_empty():
        return pl.DataFrame(schema=PIECES)
    spans = visits.with_columns(
        _end=pl.coalesce("departed_at", pl.col("arrived_at") + OPEN_FOR).cast(INSTANT)
    ).filter(pl.col("_end") > pl.col("arrived_at"))
    hold_from = now - timedelta(hours=hold_hours)
    cuts = _cut_points(spans, shifts, grace_minutes, hold_from)
    pieces = (
        cuts.with_columns(stop=pl.col("t").shift(-1).over("_visit"))
        .filter(pl.col("stop").is_not_null())
        .rename({"t": "start"})
        .join(spans.select("_visit", "officer_id"), on="_visit")
        .with_columns(mid=pl.col("start") + (pl.col("stop") - pl.col("start")) / 2)
    )
    on = covered(pieces, on_duty_windows(shifts, grace_minutes), "mid")
    rostered = covered(pieces, rostered_windows(shifts), "mid")
    status = (
        pl.when(on)
        .then(pl.lit(DutyStatus.ON_DUTY.value))
        .when(~rostered & (pl.col("mid") >= hold_from))
        .then(pl.lit(DutyStatus.HELD.value))
        .otherwise(pl.lit(DutyStatus.MASKED.value))
    )
    return (
        pieces.with_columns(status=status)
        .with_columns(run=(pl.col("status") != pl.col("status").shift(1)).fill_null(True))
        .with_columns(run=pl.col("run").cum_sum().over("_visit"))
        .group_by("_visit", "run", maintain_order=True)
        .agg(pl.col("status").first(), pl.col("start").min(), pl.col("stop").max())
        .select(
            pl.col("_visit").cast(pl.UInt32),
            "status",
            arrived_at=pl.col("start").cast(INSTANT),
            departed_at=pl.col("stop").cast(INSTANT),
        )
        .sort("_visit", "arrived_at")
    )
