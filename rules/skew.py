"""Device clock offsets: estimated from arrivals at a station against the badge, then removed."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from rules.ordering import group_rank, sort_by_group_time
from rules.policy import Policy

OFFSETS: dict[str, pl.DataType] = {
    "device": pl.Utf8(),  # device_id, or officer_id when the fix names no device
    "clock_offset_s": pl.Float64(),  # device clock minus true time, seconds (+: the clock is fast)
    "n_arrivals": pl.UInt32(),  # arrivals the estimate rests on (0: given, not estimated)
}


def _device() -> pl.Expr:
    return pl.coalesce(pl.col("device_id"), pl.col("officer_id")).alias("device")


def arrival_samples(fixes: pl.DataFrame, swipes: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """One offset sample per granted entry swipe that the device saw arrive at the same station.

    An arrival: a fix attributed to the swiped station (geo's ``station_id``, within near_m) whose
    previous fix of the same device is attributed to no station or another one, at most
    skew_arrival_gap_minutes earlier; the device crossed into the station's surroundings at
    about the middle of the two (within half the gap). The sample is that midpoint minus the
    swipe's time, when within skew_max_offset_minutes of it (the nearest such arrival).
    Columns ``device``, ``sample_s``. Readers' clocks are the reference: door systems are
    network-timed and one reader serves every badge, while each phone's clock is its own.
    """
    if fixes.is_empty() or swipes.is_empty():
        return pl.DataFrame(schema={"device": pl.Utf8(), "sample_s": pl.Float64()})
    gap = timedelta(minutes=policy.skew_arrival_gap_minutes)
    reach = timedelta(minutes=policy.skew_max_offset_minutes)
    entries = swipes.filter(
        pl.col("granted").fill_null(False)
        & (pl.col("direction").str.strip_chars().str.to_lowercase() == "in")
    ).select("officer_id", "station_id", swipe_ts="ts")
    # only the devices of officers with an entry swipe can give a sample; a row's previous fix
    # is the row before it in (device, ts) order when that row is of the same device
    same = pl.col("device").shift(1).eq_missing(pl.col("device"))
    f = fixes.select("officer_id", _device(), "ts", "station_id")
    sampled = f.filter(pl.col("officer_id").is_in(entries["officer_id"].implode()))["device"]
    f = f.filter(pl.col("device").is_in(sampled.unique().implode(), nulls_equal=True))
    f = (
        sort_by_group_time(f, "device", group_rank(f["device"]), ("station_id",))
        .with_columns(
            p_ts=pl.when(same).then(pl.col("ts").shift(1)),
            p_station=pl.when(same).then(pl.col("station_id").shift(1)),
        )
        .filter(
            pl.col("station_id").is_not_null()
            & pl.col("p_ts").is_not_null()
            & pl.col("p_station").ne_missing(pl.col("station_id"))
            & ((pl.col("ts") - pl.col("p_ts")) <= gap)
        )
        .select(
            "officer_id",
            "device",
            "station_id",
            crossed=pl.col("p_ts") + (pl.col("ts") - pl.col("p_ts")) / 2,
        )
    )
    pairs = (
        entries.join(f, on=["officer_id", "station_id"])
        .with_columns(
            sample_s=(pl.col("crossed") - pl.col("swipe_ts")).dt.total_microseconds() / 1e6
        )
        .filter(pl.col("sample_s").abs() <= reach.total_seconds())
        .sort("officer_id", "station_id", "swipe_ts", pl.col("sample_s").abs(), "device")
        .group_by("officer_id", "station_id", "swipe_ts", "device", maintain_order=True)
        .first()
    )
    return pairs.select("device", pl.col("sample_s").cast(pl.Float64))


def clock_offsets(
    fixes: pl.DataFrame,
    swipes: pl.DataFrame,
    policy: Policy,
    given: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Each device's clock offset (OFFSETS columns), for devices where it is known.

    ``given``: optional frame with ``device_id`` and ``clock_offset_s`` (estimated elsewhere, e.g.
    from the time each fix reached the server); a non-null value there is used as is. Otherwise
    the median of the device's arrival samples (:func:`arrival_samples`) when there are at least
    skew_min_arrivals of them: a median, so one arrival the phone reported late or an officer
    who lingered at the door moves nothing. Offsets are bounded to skew_max_offset_minutes
    either way (a clock hours out is a different fault, not corrected here). Devices with
    neither are absent (offset 0: their clock is taken as right, within the rules'
    clock_tolerance_minutes).
    """
    bound = policy.skew_max_offset_minutes * 60.0
    samples = arrival_samples(fixes, swipes, policy)
    estimated = (
        samples.group_by("device")
        .agg(clock_offset_s=pl.col("sample_s").median(), n_arrivals=pl.len().cast(pl.UInt32))
        .filter(pl.col("n_arrivals") >= policy.skew_min_arrivals)
    )
    if given is not None and "clock_offset_s" in given.columns and given.height:
        known = given.select(
            device=pl.col("device_id").cast(pl.Utf8),
            clock_offset_s=pl.col("clock_offset_s").cast(pl.Float64),
            n_arrivals=pl.lit(0, dtype=pl.UInt32),
        ).filter(pl.col("clock_offset_s").is_not_null() & pl.col("device").is_not_null())
        estimated = pl.concat(
            [known, estimated.join(known.select("device"), on="device", how="anti")]
        )
    return (
        estimated.with_columns(pl.col("clock_offset_s").clip(-bound, bound))
        .select(list(OFFSETS))
        .cast(OFFSETS)  # type: ignore[arg-type]
        .sort("device")
    )


def apply_offsets(fixes: pl.DataFrame, offsets: pl.DataFrame) -> pl.DataFrame:
    """``fixes`` with each ``ts`` moved to true time (minus its device's clock offset); the rows
    and columns are unchanged, and a device without an offset keeps its times."""
    if offsets.is_empty() or fixes.is_empty():
        return fixes
    shift = (
        fixes.select(_device())
        .join(
            offsets.select("device", "clock_offset_s"),
            on="device",
            how="left",
            maintain_order="left",
        )
        .select((pl.col("clock_offset_s").fill_null(0.0) * 1e6).round().cast(pl.Int64))
        .to_series()
    )
    return fixes.with_columns(ts=pl.col("ts") - pl.lit(shift).cast(pl.Duration("us")))
