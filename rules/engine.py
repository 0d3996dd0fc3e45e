"""The day engine: mask off-duty data, build presence, grade evidence, daily results and flags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime

import polars as pl

from rules.clock import DEFAULT_TIMEZONE, local_date
from rules.daily import clip_segments, daily_results, day_windows, mark_conflicts
from rules.evidence import evidence_events
from rules.findings import Finding, finding_order
from rules.flags import (
    badge_without_device,
    below_office_share,
    declared_office,
    device_without_badge,
    impossible_travel,
    mock_location,
    overtime_unverified,
    roster_retro_edit,
)
from rules.flags.context import FlagContext
from rules.ghosts import with_ghosts
from rules.integrity import INTEGRITY_CODES, late_support
from rules.masking import duty_windows, mask_off_duty
from rules.policy import Policy
from rules.presence import all_segments, public_segments
from rules.schemas import (
    FIXES,
    OFFICERS,
    OVERTIME,
    SHIFT_HISTORY,
    SHIFTS,
    STATIONS,
    SWIPES,
    conform,
)
from rules.skew import apply_offsets, clock_offsets

# The day's flag rules, each a module with CODE, RULE_VERSION and detect, in the order they run.
DAY_RULE_MODULES = (
    declared_office,
    badge_without_device,
    overtime_unverified,
    roster_retro_edit,
    impossible_travel,
    mock_location,
    device_without_badge,
)
DAY_RULES: tuple[Callable[[FlagContext], list[Finding]], ...] = tuple(
    rule.detect for rule in DAY_RULE_MODULES
)

# Every code a flag can carry, in the order reviewers are shown them: the day rules', the
# period's compliance flag, then roster integrity's.
FLAG_CODES: tuple[str, ...] = (
    *(rule.CODE for rule in DAY_RULE_MODULES),
    below_office_share.CODE,
    *INTEGRITY_CODES,
)


@dataclass(frozen=True)
class DayInputs:
    """Everything the engine needs for one local day (frames as in rules.schemas)."""

    day: date  # local calendar day in tz
    tz: str  # e.g. "Europe/London"
    officers: pl.DataFrame
    shifts: pl.DataFrame  # shifts overlapping [day start - 1 day, day end + 1 day]
    shift_history: pl.DataFrame
    fixes: pl.DataFrame  # classified fixes in that widened range (off-duty ones are masked here)
    swipes: pl.DataFrame
    overtime: pl.DataFrame
    stations: pl.DataFrame
    # optional: device_id, clock_offset_s (device clock minus true time, seconds; null: unknown)
    devices: pl.DataFrame | None = None
    # optional: officer_id of officers with a granted on-duty swipe in the dwb_habit_days local
    # days before the day (store.dayload.load_swipers); DEVICE_WITHOUT_BADGE then knows they
    # swipe even when the days either side are rest or remote days. Without it only the inputs'
    # own swipes are asked.
    swipers: pl.DataFrame | None = None


@dataclass(frozen=True)
class DayOutcome:
    """Daily rows (rules.schemas.DAILY), timeline segments (PRESENCE) and findings of one day."""

    daily: pl.DataFrame
    presence: pl.DataFrame
    findings: list[Finding]


def relevant_windows(
    windows: pl.DataFrame, day_windows: pl.DataFrame, claims: pl.DataFrame
) -> pl.Series:
    """Ids of the on-duty windows a day's results can depend on: those overlapping the day's
    on-duty windows or its overtime claims. Work on the rest of the widened input is skipped
    (it cannot change the day's results: segments never cross a window)."""
    interest = pl.concat(
        [
            day_windows.select("officer_id", "start_at", "end_at"),
            claims.select("officer_id", "start_at", "end_at"),
        ]
    )
    hits = (
        windows.join(interest, on="officer_id")
        .filter(
            (pl.col("win_start") <= pl.col("end_at")) & (pl.col("win_end") >= pl.col("start_at"))
        )
        .select("win_id")
        .unique()
        .sort("win_id")
    )
    return hits["win_id"]


def fix_span(
    shifts: pl.DataFrame, overtime: pl.DataFrame, day: date, tz: str, policy: Policy
) -> tuple[datetime, datetime] | None:
    """[first start, last end] (both inclusive) of the on-duty windows ``day``'s results can
    depend on (relevant_windows); None when there is none. Fixes outside it change nothing in
    evaluate_day, so a caller reading fixes from a store need read only this span."""
    shifts = conform(shifts, SHIFTS, "shifts")
    overtime = conform(overtime, OVERTIME, "overtime")
    windows = duty_windows(shifts, policy)
    claims = overtime.filter(local_date(pl.col("start_at"), tz) == day)
    keep = relevant_windows(windows, day_windows(shifts, day, tz, policy), claims)
    kept = windows.filter(pl.col("win_id").is_in(keep.implode()))
    if kept.is_empty():
        return None
    first: datetime = kept["win_start"].min()  # type: ignore[assignment]
    last: datetime = kept["win_end"].max()  # type: ignore[assignment]
    return first, last


def presence_segments(
    fixes: pl.DataFrame,
    swipes: pl.DataFrame,
    shifts: pl.DataFrame,
    policy: Policy,
    tz: str = DEFAULT_TIMEZONE,
    stations: pl.DataFrame | None = None,
    devices: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Presence, away and unknown segments over every on-duty window of ``shifts`` (any range).

    Off-duty fixes and swipes are masked first, so nothing outside an on-duty window appears.
    Columns rules.schemas.PRESENCE, sorted by officer and time; "away" segments carry only an H3
    cell at policy.timeline_cell_resolution. ``tz`` is accepted for symmetry with evaluate_day;
    segments are instants and do not depend on it. ``stations`` (rules.schemas.STATIONS, as
    geo.index.StationIndex.station_centroids gives them) measure fixes far from every station;
    without them such a fix counts as policy.unmatched_distance_m away. Device clocks are
    corrected as in evaluate_day (``devices``: optional device_id, clock_offset_s).
    """
    del tz
    fixes = conform(fixes, FIXES, "fixes")
    swipes = conform(swipes, SWIPES, "swipes")
    shifts = conform(shifts, SHIFTS, "shifts")
    fixes = apply_offsets(fixes, clock_offsets(fixes, swipes, policy, devices))
    on = mask_off_duty(fixes, swipes, shifts, policy)
    if stations is not None:
        stations = conform(stations, STATIONS, "stations")
    events = evidence_events(on.fixes, on.swipes, policy, stations)
    return public_segments(all_segments(events, on.windows, on.windows, policy))


def conflicting_officers(ctx: FlagContext) -> frozenset[str]:
    """Officers whose sources disagree on the day: a granted swipe while the device stayed far
    away (BADGE_WITHOUT_DEVICE), a granted swipe that every fix near it places far away
    (badge_without_device.contradicted_swipes: no lead, a sparse phone proves too little), or a
    device inside a station all day on clean satellite fixes
    with no swipe of theirs (DEVICE_WITHOUT_BADGE). Their day is conflicting evidence: neither presence nor absence
    is established, so it is graded insufficient_evidence and no rule reads it as absence; the
    conflict itself is the lead."""
    found: set[str] = set()
    for frame in (
        badge_without_device.far_swipes(ctx),
        badge_without_device.contradicted_swipes(ctx),
        device_without_badge.suspects(ctx),
    ):
        if not frame.is_empty():
            found.update(frame["officer_id"].unique().to_list())
    return frozenset(found)


def evaluate_day(inputs: DayInputs, policy: Policy) -> DayOutcome:
    """Daily results, presence segments and findings for ``inputs.day``.

    Steps: conform the frames; move each device's fixes to true time (rules.skew: the offset
    given in ``inputs.devices``, else one estimated from its arrivals against the badge, else
    none); mask off-duty fixes and swipes (rules.masking, before anything else); classify
    evidence; build segments; measure the day's on-duty windows (shifts starting on
    the day, so a night shift belongs to the day it starts); grade evidence; mark the officers
    whose badge and device disagree (conflicting_officers); run every day rule.
    The result depends only on the values given, never on row order. ``presence`` holds the
    segments clipped to the day's on-duty windows.
    """
    tz = inputs.tz
    fixes = conform(inputs.fixes, FIXES, "fixes")
    swipes = conform(inputs.swipes, SWIPES, "swipes")
    shifts = conform(inputs.shifts, SHIFTS, "shifts")
    history = conform(inputs.shift_history, SHIFT_HISTORY, "shift_history")
    overtime = conform(inputs.overtime, OVERTIME, "overtime")
    stations = conform(inputs.stations, STATIONS, "stations")
    conform(inputs.officers, OFFICERS, "officers")
    fixes = apply_offsets(fixes, clock_offsets(fixes, swipes, policy, inputs.devices))

    on = mask_off_duty(fixes, swipes, shifts, policy)
    windows_today = day_windows(shifts, inputs.day, tz, policy)
    claims = overtime.filter(local_date(pl.col("start_at"), tz) == inputs.day)
    keep = relevant_windows(on.windows, windows_today, claims)
    on_swipes = on.swipes.filter(pl.col("win_id").is_in(keep.implode()))
    # ghosts are judged once, here, and read by the evidence and the badge rules (rules.ghosts)
    on_fixes = with_ghosts(
        on.fixes.filter(pl.col("win_id").is_in(keep.implode())), policy, on_swipes
    )
    events = evidence_events(on_fixes, on_swipes, policy, stations)
    segments = all_segments(
        events, on.windows.filter(pl.col("win_id").is_in(keep.implode())), on.windows, policy
    )
    daily = daily_results(inputs.day, tz, shifts, claims, segments, on_fixes, on_swipes, policy)
    ctx = FlagContext(
        day=inputs.day,
        tz=tz,
        policy=policy,
        daily=daily,
        segments=segments,
        day_windows=windows_today,
        shifts=shifts,
        shift_history=history,
        fixes=on_fixes,
        swipes=on_swipes,
        overtime=claims,
        stations=stations,
        windows=on.windows,
        recent_swipes=on.swipes,
        swipers=frozenset()
        if inputs.swipers is None
        else frozenset(inputs.swipers["officer_id"].drop_nulls().to_list()),
    )
    conflicts = conflicting_officers(ctx)
    if conflicts:
        daily = mark_conflicts(daily, conflicts)
        ctx = replace(ctx, daily=daily, conflicts=conflicts)
    findings: list[Finding] = []
    for rule in DAY_RULES:
        findings.extend(rule(ctx))
    findings.sort(key=finding_order)
    daily = late_support(ctx)
    presence = public_segments(clip_segments(segments, windows_today)).sort(
        "officer_id", "start_at", "kind", "station_id", "h3_cell", nulls_last=True
    )
    return DayOutcome(daily=daily, presence=presence, findings=findings)
