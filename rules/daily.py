"""Daily results: verified presence, office-day verdict and evidence grade per officer and day."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from rules.clock import day_bounds, local_date
from rules.masking import ON_DUTY_KINDS, covered, merge_intervals
from rules.policy import Policy
from rules.records import DayEvidence, DeclaredLocation
from rules.schemas import DAILY

ADEQUATE = DayEvidence.ADEQUATE.value
INSUFFICIENT = DayEvidence.INSUFFICIENT.value
_DECLARED_ORDER = {d.value: i for i, d in enumerate(DeclaredLocation)}
# The declared locations that make a day an expected office day.
EXPECTED_OFFICE = (DeclaredLocation.OFFICE.value, DeclaredLocation.REMOTE.value)


def day_shifts(shifts: pl.DataFrame, day: date, tz: str) -> pl.DataFrame:
    """Shifts (any kind) starting on local ``day`` in ``tz``: a night shift is its start day's."""
    start, end = day_bounds(day, tz)
    return shifts.filter((pl.col("start_at") >= start) & (pl.col("start_at") < end))


def day_windows(shifts: pl.DataFrame, day: date, tz: str, policy: Policy) -> pl.DataFrame:
    """Merged grace-widened on-duty windows of the on-duty shifts starting on ``day``, per officer.

    Columns officer_id, start_at, end_at; disjoint per officer. The day's presence is measured here.
    """
    grace = timedelta(minutes=policy.duty_grace_minutes)
    on = day_shifts(shifts, day, tz).filter(pl.col("kind").is_in(ON_DUTY_KINDS))
    return merge_intervals(
        on.select(
            "officer_id", start_at=pl.col("start_at") - grace, end_at=pl.col("end_at") + grace
        )
    )


def clip_segments(segments: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """Segments cut to the parts inside ``windows`` (officer_id, start_at, end_at), same columns.

    A segment crossing a window edge is shortened; one outside every window is dropped.
    """
    joined = segments.join(
        windows.select("officer_id", w_start="start_at", w_end="end_at"), on="officer_id"
    ).with_columns(
        start_at=pl.max_horizontal("start_at", "w_start"),
        end_at=pl.min_horizontal("end_at", "w_end"),
    )
    return joined.filter(pl.col("end_at") > pl.col("start_at")).select(segments.columns)


def _minutes(expr: pl.Expr) -> pl.Expr:
    """A duration expression in minutes, Float64."""
    return expr.dt.total_microseconds().cast(pl.Float64) / 60e6


def _sum_minutes(micros: pl.Expr) -> pl.Expr:
    """Minutes from a sum of integer microseconds: exact, so independent of summation order."""
    return micros.sum().cast(pl.Float64) / 60e6


def daily_results(
    day: date,
    tz: str,
    shifts: pl.DataFrame,
    overtime: pl.DataFrame,
    segments: pl.DataFrame,
    on_fixes: pl.DataFrame,
    on_swipes: pl.DataFrame,
    policy: Policy,
) -> pl.DataFrame:
    """One DAILY row per officer with a shift (any kind) or an overtime claim starting on ``day``.

    - expected_office: an on-duty shift that day declared office or remote;
    - declared_location: of the day's on-duty shifts, office before remote before field (or null);
    - verified_presence_minutes: station presence inside the day's on-duty windows;
    - verified_office_day: expected_office and presence >= office_day_min_hours;
    - evidence: "adequate" when presence reaches the threshold, or when it could not reach it even
      if every unknown minute were presence and the day has at least evidence_min_events on-duty
      fixes or swipes; otherwise "insufficient_evidence" (always so with no on-duty shift).
    Extra columns: on_duty_minutes (the day's grace-widened on-duty windows), away_minutes,
    unknown_minutes, mock_minutes (simulated fixes: decided, never presence), n_fixes (on-duty
    fixes, mock included) and n_swipes. ``segments`` are rules.presence.all_segments;
    ``on_fixes``/``on_swipes`` are already masked and sorted by (officer_id, ts).
    """
    todays = day_shifts(shifts, day, tz)
    claims = overtime.filter(local_date(pl.col("start_at"), tz) == day)
    officers = (
        pl.concat([todays.select("officer_id"), claims.select("officer_id")])
        .unique()
        .sort("officer_id")
    )
    windows = day_windows(shifts, day, tz, policy)
    frame = (
        officers.join(_declared(todays), on="officer_id", how="left")
        .join(_window_minutes(windows), on="officer_id", how="left")
        .join(_minutes_by_kind(segments, windows), on="officer_id", how="left")
        .join(_counts(on_fixes, windows, "n_fixes"), on="officer_id", how="left")
        .join(_counts(on_swipes, windows, "n_swipes"), on="officer_id", how="left")
        .with_columns(
            pl.col("expected_office").fill_null(False),
            pl.col(
                "on_duty_minutes",
                "verified_presence_minutes",
                "away_minutes",
                "unknown_minutes",
                "mock_minutes",
            ).fill_null(0.0),
            pl.col("n_fixes", "n_swipes").fill_null(0),
            declared_location=pl.col("declared_rank").replace_strict(
                {v: k for k, v in _DECLARED_ORDER.items()}, default=None, return_dtype=pl.Utf8
            ),
        )
    )
    return _graded(frame, day, policy)


def _declared(todays: pl.DataFrame) -> pl.DataFrame:
    """Per officer with an on-duty shift on the day: whether one declared office or remote
    (expected_office), and the rank of the first declared location in _DECLARED_ORDER."""
    on = todays.filter(pl.col("kind").is_in(ON_DUTY_KINDS))
    return on.group_by("officer_id").agg(
        expected_office=pl.col("declared_location").is_in(EXPECTED_OFFICE).any(),
        declared_rank=pl.col("declared_location")
        .replace_strict(_DECLARED_ORDER, default=None, return_dtype=pl.Int8)
        .min(),
    )


def _window_minutes(windows: pl.DataFrame) -> pl.DataFrame:
    """Minutes of each officer's on-duty windows (on_duty_minutes)."""
    return windows.group_by("officer_id").agg(
        on_duty_minutes=_sum_minutes(
            (pl.col("end_at") - pl.col("start_at")).dt.total_microseconds()
        )
    )


def _minutes_by_kind(segments: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """Minutes of presence, away, unknown and mock segments inside each officer's windows."""
    clipped = clip_segments(segments.select("officer_id", "start_at", "end_at", "kind"), windows)
    return (
        clipped.with_columns(m=(pl.col("end_at") - pl.col("start_at")).dt.total_microseconds())
        .group_by("officer_id")
        .agg(
            verified_presence_minutes=_sum_minutes(
                pl.col("m").filter(pl.col("kind") == "presence")
            ),
            away_minutes=_sum_minutes(pl.col("m").filter(pl.col("kind") == "away")),
            unknown_minutes=_sum_minutes(pl.col("m").filter(pl.col("kind") == "unknown")),
            mock_minutes=_sum_minutes(pl.col("m").filter(pl.col("kind") == "mock")),
        )
    )


def _counts(events: pl.DataFrame, windows: pl.DataFrame, name: str) -> pl.DataFrame:
    """Per officer, how many of ``events`` fall inside their on-duty windows, as column ``name``."""
    return events.filter(covered(events, windows)).group_by("officer_id").agg(pl.len().alias(name))


def _graded(frame: pl.DataFrame, day: date, policy: Policy) -> pl.DataFrame:
    """The DAILY rows of ``frame``'s officers: the office day verified when presence reaches
    office_day_min_hours, and the evidence graded (see daily_results)."""
    threshold = policy.office_day_min_hours * 60.0
    presence = pl.col("verified_presence_minutes")
    decided_no = (presence + pl.col("unknown_minutes") < threshold) & (
        pl.col("n_fixes") + pl.col("n_swipes") >= policy.evidence_min_events
    )
    adequate = (pl.col("on_duty_minutes") > 0) & ((presence >= threshold) | decided_no)
    return frame.select(
        "officer_id",
        date=pl.lit(day, dtype=pl.Date),
        expected_office="expected_office",
        declared_location="declared_location",
        verified_presence_minutes=presence,
        verified_office_day=pl.col("expected_office") & (presence >= threshold),
        evidence=pl.when(adequate).then(pl.lit(ADEQUATE)).otherwise(pl.lit(INSUFFICIENT)),
        policy_version=pl.lit(policy.version),
        on_duty_minutes="on_duty_minutes",
        away_minutes="away_minutes",
        unknown_minutes="unknown_minutes",
        mock_minutes="mock_minutes",
        n_fixes="n_fixes",
        n_swipes="n_swipes",
    ).cast(DAILY)  # type: ignore[arg-type]


def mark_conflicts(daily: pl.DataFrame, officers: frozenset[str]) -> pl.DataFrame:
    """Daily rows with ``officers``' days graded insufficient_evidence and not verified office
    days: badge and device disagree, so the day establishes neither presence nor absence (it
    leaves the share's estimate and widens its bounds, like a day without data)."""
    hit = pl.col("officer_id").is_in(sorted(officers))
    return daily.with_columns(
        evidence=pl.when(hit).then(pl.lit(INSUFFICIENT)).otherwise(pl.col("evidence")),
        verified_office_day=pl.when(hit).then(False).otherwise(pl.col("verified_office_day")),
    )
