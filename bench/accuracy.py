"""Accuracy benchmark: a synthetic force through masking, geo and rules, scored against truth."""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from bench.machine import Run, quick_mode
from fixtures._realistic import PRESETS
from fixtures.synth import Force, generate_force
from geo.cells import cell_expr
from geo.fences import stations_from_geojson
from geo.index import StationIndex
from jobs.compute import day_inputs
from rules.clock import day_bounds
from rules.compliance import compliance
from rules.findings import Finding
from rules.geodesy import haversine_m
from rules.masking import DutyStatus, duty_status, on_duty_windows
from rules.pipeline import day_outcome
from rules.policy import Policy, load_policy
from rules.receipts import DEVICES, receipt_offsets
from rules.visits import split_by_duty
from store.dayload import FIXES, VISIT_LOOKBACK, VISITS, DayFrames, day_range

CODES = (
    "DECLARED_OFFICE_UNVERIFIED",
    "BADGE_WITHOUT_DEVICE",
    "OVERTIME_UNVERIFIED",
    "ROSTER_RETRO_EDIT",
    "IMPOSSIBLE_TRAVEL",
    "MOCK_LOCATION",
    "BELOW_OFFICE_SHARE",
    "DEVICE_WITHOUT_BADGE",
)
# Lead that a phone left at home (an honest officer) raises exactly as a lent badge does: the
# data cannot tell the two apart, so on such days it is counted as a conflict lead, not misconduct.
CONFLICT_CODE = "BADGE_WITHOUT_DEVICE"
# Acceptance targets on the realistic preset (fairness on real devices), overall and per profile.
FAIR_TARGETS = {
    "honest_flagged_share": 0.01,
    "honest_flagged_share_per_profile": 0.02,
    "precision": 0.97,
    "recall": 0.95,
    "office_day_accuracy_assessed": 0.99,
    "interval_coverage": 0.95,
    "midpoint_mae_points": 3.0,
    "coverage_android_continuous": 0.95,
    "off_duty_leaks": 0,
}
TARGETS = {
    "office_day_accuracy": 0.98,
    "share_mae_points": 2.0,
    "precision": 0.90,
    "recall": 0.85,
    "honest_flagged_share": 0.03,
    "off_duty_leaks": 0,
}


@dataclass
class RunResult:
    """Outputs of the pipeline over a period and the force they came from."""

    force: Force
    daily: pl.DataFrame
    presence: pl.DataFrame
    findings: list[Finding]
    compliance: pl.DataFrame
    masked: dict[str, int]
    seconds: dict[str, float]


def _shift_frames(force: Force) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The roster as the rules take it: current shifts and every version (later row = edit)."""
    rows = force.roster.rename({"start": "start_at", "end": "end_at"}).with_row_index("_row")
    history = rows.with_columns(
        version=(pl.col("_row").rank("ordinal").over("shift_id")).cast(pl.Int64),
        recorded_at=pl.coalesce("updated_at", "created_at"),
    ).drop("_row")
    current = (
        rows.sort("_row").group_by("shift_id", maintain_order=True).last().drop("_row")
    ).sort("officer_id", "start_at")
    return current, history


def run_pipeline(force: Force, policy: Policy) -> RunResult:
    """Intake masking, then each day as the nightly job computes it (jobs.compute.day_inputs and
    rules.pipeline.day_outcome: visits counted as fixes, fence classification, the engine),
    then compliance."""
    t0 = time.perf_counter()
    shifts, history = _shift_frames(force)
    first, last = force.period
    now = day_bounds(last, force.tz)[1] + timedelta(days=3)
    masked: dict[str, int] = {}
    kept: dict[str, pl.DataFrame] = {}
    for name, frame in (("pings", force.pings), ("swipes", force.swipes)):
        status = duty_status(
            frame,
            shifts,
            grace_minutes=policy.duty_grace_minutes,
            hold_hours=policy.unrostered_hold_hours,
            now=now,
        )
        masked[name] = int((status != DutyStatus.ON_DUTY.value).sum())
        kept[name] = frame.filter(status == DutyStatus.ON_DUTY.value)
    visits = _visit_pieces(force, shifts, policy, now, masked)
    t1 = time.perf_counter()
    stations, errors = stations_from_geojson(force.stations_geojson)
    if errors:
        raise RuntimeError(f"station fences rejected: {errors}")
    index = StationIndex.build(stations)
    # the stored fixes' columns (store.dayload.FIXES), with the H3 cell intake stores
    pings = kept["pings"].with_columns(h3_cell=cell_expr()).select(list(FIXES)).cast(FIXES)  # type: ignore[arg-type]
    t2 = time.perf_counter()
    overtime = force.overtime.rename({"start": "start_at", "end": "end_at"})
    officers = force.officers.select("officer_id", "unit", "office_based")
    swipe_days = (
        kept["swipes"]
        .filter(pl.col("granted").fill_null(False))
        .select("officer_id", date=pl.col("ts").dt.convert_time_zone(force.tz).dt.date())
        .unique()
    )
    receipts = force.receipts
    daily: list[pl.DataFrame] = []
    presence: list[pl.DataFrame] = []
    findings: list[Finding] = []
    day = first
    while day <= last:
        lo, hi = day_range(day, force.tz)
        day_shifts = shifts.filter((pl.col("start_at") < hi) & (pl.col("end_at") > lo))
        # what store.dayload.load_day, store.clock.device_offsets and load_swipers read
        frames = DayFrames(
            day=day,
            lo=lo,
            hi=hi,
            officers=officers,
            shifts=day_shifts,
            shift_history=history.filter(
                pl.col("shift_id").is_in(day_shifts["shift_id"].implode())
            ),
            fixes=pings.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi)),
            swipes=kept["swipes"].filter((pl.col("ts") >= lo) & (pl.col("ts") < hi)),
            overtime=overtime.filter((pl.col("start_at") < hi) & (pl.col("end_at") > lo)),
            visits=visits.filter(
                (pl.col("arrived_at") >= lo - VISIT_LOOKBACK)
                & (pl.col("arrived_at") < hi)
                & (pl.col("departed_at") > lo)
            ),
            devices=_offsets(receipts, hi, policy)
            if receipts is not None
            else pl.DataFrame(schema=DEVICES),
            swipers=swipe_days.filter(
                (pl.col("date") >= day - timedelta(days=policy.dwb_habit_days))
                & (pl.col("date") < day)
            )
            .select("officer_id")
            .unique()
            .sort("officer_id"),
        )
        out, _ = day_outcome(day_inputs(frames, policy, force.tz), index, policy)
        daily.append(out.daily)
        presence.append(out.presence)
        findings.extend(out.findings)
        day += timedelta(days=1)
    t3 = time.perf_counter()
    all_daily = pl.concat(daily, how="vertical_relaxed")
    rows, period_findings = compliance(all_daily, officers, policy, last)
    findings.extend(period_findings)
    t4 = time.perf_counter()
    return RunResult(
        force=force,
        daily=all_daily,
        presence=pl.concat(presence, how="vertical_relaxed"),
        findings=findings,
        compliance=rows,
        masked=masked,
        seconds={
            "masking": t1 - t0,
            "cells": t2 - t1,
            "classify_and_evaluate": t3 - t2,
            "compliance": t4 - t3,
        },
    )


def _visit_pieces(
    force: Force, shifts: pl.DataFrame, policy: Policy, now: datetime, masked: dict[str, int]
) -> pl.DataFrame:
    """The force's visits as intake stores them (intake.visits.pieces_of): cut at the officers'
    on-duty edges (rules.visits.split_by_duty), the on-duty pieces kept with the visit's place
    (store.dayload.VISITS columns); ``masked["visits"]`` counts the other pieces."""
    if force.visits is None or force.visits.is_empty():
        masked["visits"] = 0
        return pl.DataFrame(schema=VISITS)
    rows = force.visits.with_row_index("_visit")
    pieces = split_by_duty(
        rows.select("_visit", "officer_id", "arrived_at", "departed_at"),
        shifts,
        grace_minutes=policy.duty_grace_minutes,
        hold_hours=policy.unrostered_hold_hours,
        now=now,
    )
    masked["visits"] = int((pieces["status"] != DutyStatus.ON_DUTY.value).sum())
    place = rows.select("_visit", "device_id", "officer_id", "lat", "lon", "accuracy_m")
    return (
        pieces.filter(pl.col("status") == DutyStatus.ON_DUTY.value)
        .join(place, on="_visit")
        .select(list(VISITS))
        .cast(VISITS)  # type: ignore[arg-type]
    )


def _offsets(receipts: pl.DataFrame, hi: datetime, policy: Policy) -> pl.DataFrame:
    """Device clock offsets from the HTTP receipts of the receipt_offset_days before ``hi``, as
    store.clock.device_offsets reads them for the nightly run."""
    lo = hi - timedelta(days=policy.receipt_offset_days)
    return receipt_offsets(
        receipts.filter((pl.col("received_at") >= lo) & (pl.col("received_at") < hi)),
        min_batches=policy.receipt_min_batches,
        max_offset_s=policy.skew_max_offset_minutes * 60.0,
    )


def _instants_in(value: Any) -> list[datetime]:
    """Every aware datetime (or ISO 8601 string with an offset) anywhere inside ``value``."""
    out: list[datetime] = []
    if isinstance(value, datetime):
        out.append(value.astimezone(UTC))
    elif isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return out
        if parsed.tzinfo is not None:
            out.append(parsed.astimezone(UTC))
    elif isinstance(value, dict):
        for v in value.values():
            out.extend(_instants_in(v))
    elif isinstance(value, list | tuple):
        for v in value:
            out.extend(_instants_in(v))
    return out


def off_duty_leaks(result: RunResult, policy: Policy) -> dict[str, Any]:
    """Results that reference off-duty time.

    - presence: a presence/away segment not inside the officer's on-duty windows (grace included);
    - daily: verified presence on a day the officer has no on-duty shift;
    - findings: evidence naming the exact instant of an off-duty ping or swipe of that officer.
    """
    force = result.force
    shifts, _ = _shift_frames(force)
    windows = on_duty_windows(shifts, policy.duty_grace_minutes)
    leaks: dict[str, Any] = {"presence": 0, "daily": 0, "findings": 0, "examples": []}
    seg = result.presence.filter(pl.col("kind").is_in(["presence", "away"]))
    if seg.height:
        joined = (
            seg.with_row_index("_seg")
            .join(windows, on="officer_id", how="left")
            .with_columns(
                inside=(pl.col("start_at") >= pl.col("start_at_right"))
                & (pl.col("end_at") <= pl.col("end_at_right"))
            )
            .group_by("_seg")
            .agg(pl.col("inside").fill_null(False).any(), pl.first("officer_id", "start_at"))
        )
        bad = joined.filter(~pl.col("inside"))
        leaks["presence"] = bad.height
        leaks["examples"] += [f"presence {r}" for r in bad.head(3).iter_rows()]
    on_days = force.truth_days.filter(pl.col("on_duty")).select("officer_id", "date")
    off_rows = result.daily.join(on_days, on=["officer_id", "date"], how="anti").filter(
        pl.col("verified_presence_minutes") > 0
    )
    leaks["daily"] = off_rows.height
    leaks["examples"] += [f"daily {r}" for r in off_rows.head(3).iter_rows()]
    off_times: dict[str, set[datetime]] = defaultdict(set)
    for frame in (force.pings, force.swipes):
        cov = _covered(frame, windows)
        for oid, ts in frame.filter(~cov).select("officer_id", "ts").iter_rows():
            off_times[oid].add(ts)
    for f in result.findings:
        hits = [t for t in _instants_in(f.evidence) if t in off_times.get(f.officer_id, set())]
        if hits:
            leaks["findings"] += 1
            leaks["examples"].append(f"finding {f.code} {f.officer_id} {f.date} at {hits[0]}")
    leaks["total"] = leaks["presence"] + leaks["daily"] + leaks["findings"]
    return leaks


def _covered(events: pl.DataFrame, windows: pl.DataFrame) -> pl.Series:
    """Whether each event lies in one of its officer's on-duty windows (ends inclusive)."""
    from rules.masking import covered

    return covered(events, windows)


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def score(result: RunResult, policy: Policy) -> dict[str, Any]:
    """Compare the pipeline's outputs with the force's ground truth."""
    force = result.force
    truth = force.truth_days
    days = (
        truth.filter(pl.col("expected_office") & (pl.col("evidence_expected") == "adequate"))
        .join(
            result.daily.select(
                "officer_id", "date", "verified_office_day", "verified_presence_minutes", "evidence"
            ),
            on=["officer_id", "date"],
            how="left",
        )
        .with_columns(pl.col("verified_office_day").fill_null(False))
    )
    correct = days.filter(pl.col("verified_office_day") == pl.col("true_office_day")).height
    day_acc = _ratio(correct, days.height)
    wrong_days = days.filter(pl.col("verified_office_day") != pl.col("true_office_day"))
    both = days.filter(pl.col("evidence") == "adequate")
    both_acc = _ratio(
        both.filter(pl.col("verified_office_day") == pl.col("true_office_day")).height, both.height
    )
    presence_err = (
        pl.col("verified_presence_minutes").fill_null(0.0) - pl.col("true_presence_minutes")
    ).abs()
    presence_mae = float(days.select(presence_err.mean()).item() or 0.0)
    wrong_kinds = dict(
        wrong_days.group_by(
            pl.when(pl.col("evidence") == "insufficient_evidence")
            .then(pl.lit("engine graded insufficient"))
            .when(pl.col("true_office_day"))
            .then(pl.lit("missed office day"))
            .otherwise(pl.lit("phantom office day"))
        )
        .len()
        .iter_rows()
    )
    evidence = truth.filter(pl.col("expected_office")).join(
        result.daily.select("officer_id", "date", "evidence"), on=["officer_id", "date"], how="left"
    )
    evidence_agree = _ratio(
        evidence.filter(pl.col("evidence") == pl.col("evidence_expected")).height, evidence.height
    )
    shares = force.truth_officers.filter(pl.col("attainable_office_share").is_not_null()).join(
        result.compliance.select("officer_id", "verified_office_share", "meets_policy"),
        on="officer_id",
        how="left",
    )
    err = (pl.col("verified_office_share").fill_null(0.0) - pl.col("attainable_office_share")).abs()
    share_mae = float(shares.select(err.mean()).item() or 0.0) * 100
    truth_meets = pl.col("attainable_office_share") >= policy.min_office_share
    rule_agree = _ratio(
        shares.filter(pl.col("meets_policy").fill_null(True) == truth_meets).height, shares.height
    )
    # flags, on the cases the data can prove
    conflicts = _conflict_days(force)
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    conflict_leads: set[tuple[str, str]] = set()
    for f in result.findings:
        key = (f.officer_id, "" if f.code == "BELOW_OFFICE_SHARE" else f.date.isoformat())
        if f.code == CONFLICT_CODE and key in conflicts:
            conflict_leads.add(key)
            continue
        found[f.code].add(key)
    planted = _planted(force)
    provable = _provable(force, planted, policy)
    per_code: dict[str, dict[str, Any]] = {}
    tp_all = fp_all = fn_all = 0
    for code in CODES:
        tp = len(found[code] & planted[code])
        fp = len(found[code] - planted[code])
        fn = len(provable[code] - found[code])
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        per_code[code] = {
            "planted": len(planted[code]),
            "provable": len(provable[code]),
            "flagged": len(found[code]),
            "tp": tp,
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(len(provable[code] & found[code]), len(provable[code])),
            "false_positives": sorted(found[code] - planted[code])[:5],
            "missed": sorted(provable[code] - found[code])[:5],
        }
    honest = set(force.truth_officers.filter(pl.col("honest"))["officer_id"])
    flagged_honest = {
        f.officer_id
        for f in result.findings
        if f.misconduct
        and not (f.code == CONFLICT_CODE and (f.officer_id, f.date.isoformat()) in conflicts)
    } & honest
    leaks = off_duty_leaks(result, policy)
    return {
        "office_days_scored": days.height,
        "office_day_accuracy": day_acc,
        "office_day_errors": wrong_days.select(
            "officer_id",
            "date",
            "declared_location",
            "true_presence_minutes",
            "verified_presence_minutes",
            "true_office_day",
            "evidence",
        )
        .head(8)
        .rows(),
        "office_day_accuracy_both_adequate": both_acc,
        "office_day_error_kinds": wrong_kinds,
        "presence_mae_minutes": presence_mae,
        "evidence_agreement": evidence_agree,
        "share_mae_points": share_mae,
        "rule_agreement": rule_agree,
        "precision": _ratio(tp_all, tp_all + fp_all),
        "recall": _ratio(tp_all, tp_all + fn_all),
        "per_code": per_code,
        "honest_officers": len(honest),
        "honest_flagged": sorted(flagged_honest),
        "honest_flagged_share": _ratio(len(flagged_honest), len(honest)),
        "conflict_leads": len(conflict_leads),
        "conflict_days": len(conflicts),
        "off_duty_leaks": leaks["total"],
        "leak_detail": leaks,
        "profiles": fairness(result, found, planted, provable, flagged_honest),
        "masked": result.masked,
        "seconds": result.seconds,
    }


def _conflict_days(force: Force) -> set[tuple[str, str]]:
    """(officer, day) where the truth says the badge and the phone disagree innocently."""
    if force.truth_phenomena is None:
        return set()
    rows = force.truth_phenomena.filter(pl.col("phenomenon") == "phone_at_home")
    return {(o, d.isoformat()) for o, d in rows.select("officer_id", "date").iter_rows()}


def _planted(force: Force) -> dict[str, set[tuple[str, str]]]:
    """Planted misconduct the data can prove: on a lent-badge day the badge says present and the
    phone says absent, so the day is a conflict (BADGE_WITHOUT_DEVICE), not provable absence."""
    planted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    rows = force.truth_misconduct.select("officer_id", "date", "code").iter_rows()
    for oid, d, code in rows:
        planted[code].add((oid, "" if code == "BELOW_OFFICE_SHARE" else d.isoformat()))
    planted["DECLARED_OFFICE_UNVERIFIED"] -= planted["BADGE_WITHOUT_DEVICE"]
    planted["BELOW_OFFICE_SHARE"] = {(o, "") for o in _provably_below(force)}
    return planted


def _provable(
    force: Force, planted: dict[str, set[tuple[str, str]]], policy: Policy
) -> dict[str, set[tuple[str, str]]]:
    """The planted cases the data can prove: the device reported during the officer's on-duty
    time that day (at least evidence_min_events pings or visits); for MOCK_LOCATION at least
    mock_min_fixes simulated fixes; for IMPOSSIBLE_TRAVEL at least two GPS fixes 5 km or more
    from the day's median position and one impossible step between consecutive GPS fixes, each
    end seen twice (:func:`_jump_days`); for DECLARED_OFFICE_UNVERIFIED and OVERTIME_UNVERIFIED
    a device that saw enough of the time in question (:func:`_unseen_days`: unseen, the officer
    may have been at work); for DEVICE_WITHOUT_BADGE a granted on-duty swipe of the
    officer in the dwb_habit_days before the day or on the day after (:func:`_swiper_days`:
    without one the officer cannot be told from one who rarely swipes, as in the first days of
    the data). A device silent through a misconduct day proves nothing."""
    shifts, _ = _shift_frames(force)
    windows = on_duty_windows(shifts, policy.duty_grace_minutes)
    unseen = _unseen_days(force, shifts, planted, policy)
    swiper_days = _swiper_days(force.swipes, windows, force.tz, force.period, policy.dwb_habit_days)
    pings = force.pings.filter(_covered(force.pings, windows)).with_columns(
        date=pl.col("ts").dt.convert_time_zone(force.tz).dt.date()
    )
    med = pings.group_by("officer_id", "date").agg(
        m_lat=pl.col("lat").median(), m_lon=pl.col("lon").median()
    )
    far = haversine_m(pl.col("lat"), pl.col("lon"), pl.col("m_lat"), pl.col("m_lon")) >= 5000
    per_day = (
        pings.join(med, on=["officer_id", "date"])
        .group_by("officer_id", "date")
        .agg(
            n=pl.len(),
            n_mock=pl.col("is_mock").sum(),
            n_far_gps=(far & (pl.col("source") == "gps")).sum(),
        )
    )
    per_day = per_day.join(_jump_days(pings, policy), on=["officer_id", "date"], how="left")
    if force.visits is not None and force.visits.height:
        visits = force.visits.with_columns(
            date=pl.col("arrived_at").dt.convert_time_zone(force.tz).dt.date()
        )
        per_visit = visits.group_by("officer_id", "date").agg(n_visits=pl.len())
        per_day = per_day.join(per_visit, on=["officer_id", "date"], how="full", coalesce=True)
    else:
        per_day = per_day.with_columns(n_visits=pl.lit(0))
    facts = {
        (o, d.isoformat()): (n or 0, nm or 0, nf or 0, nv or 0, nj or 0)
        for o, d, n, nm, nf, nv, nj in per_day.select(
            "officer_id", "date", "n", "n_mock", "n_far_gps", "n_visits", "n_jumps"
        ).iter_rows()
    }
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for code, keys in planted.items():
        for key in keys:
            n, n_mock, n_far, n_visits, n_jumps = facts.get(key, (0, 0, 0, 0, 0))
            if code == "BELOW_OFFICE_SHARE":
                ok = True
            elif code == "MOCK_LOCATION":
                ok = n_mock >= policy.mock_min_fixes
            elif code == "IMPOSSIBLE_TRAVEL":
                ok = n_far >= 2 and n_jumps >= 1
            elif code in ("DECLARED_OFFICE_UNVERIFIED", "OVERTIME_UNVERIFIED"):
                ok = n + n_visits >= policy.evidence_min_events and key not in unseen[code]
            elif code == "DEVICE_WITHOUT_BADGE":
                ok = n + n_visits >= policy.evidence_min_events and key in swiper_days
            else:
                ok = n + n_visits >= policy.evidence_min_events
            if ok:
                out[code].add(key)
    return out


def _unseen(
    lo: datetime,
    hi: datetime,
    fixes: pl.DataFrame,
    visits: pl.DataFrame | None,
    bridge: timedelta,
    credit: timedelta,
) -> timedelta:
    """How much of [lo, hi) the device of one officer leaves unseen, read as the rules read a
    stay: its fixes (``ts``) and visits (``arrived_at`` to ``departed_at``, an open visit to
    ``hi``) are seen; a gap up to ``bridge`` between two of them is seen through; each side of
    a longer gap, and of the range's edges, is credited ``credit``; the rest is unseen."""
    seen: list[tuple[datetime, datetime]] = [
        (t, t) for t in fixes.filter(pl.col("ts").is_between(lo, hi))["ts"].to_list()
    ]
    if visits is not None:
        for a, b in (
            visits.filter((pl.col("arrived_at") < hi) & (pl.col("departed_at").fill_null(hi) > lo))
            .select("arrived_at", "departed_at")
            .iter_rows()
        ):
            seen.append((max(a, lo), min(b or hi, hi)))
    if not seen:
        return hi - lo
    seen.sort()
    unseen = max(timedelta(0), seen[0][0] - lo - credit)
    edge = seen[0][1]
    for a, b in seen[1:]:
        if a - edge > bridge:
            unseen += max(timedelta(0), a - edge - 2 * credit)
        edge = max(edge, b)
    return unseen + max(timedelta(0), hi - edge - credit)


def _unseen_days(
    force: Force, shifts: pl.DataFrame, planted: dict[str, set[tuple[str, str]]], policy: Policy
) -> dict[str, set[tuple[str, str]]]:
    """Planted DECLARED_OFFICE_UNVERIFIED and OVERTIME_UNVERIFIED days the device leaves too
    unseen to prove (:func:`_unseen`: gaps longer than bridge_max_minutes between its fixes,
    simulated ones included, as the rules read them as no presence, and outside its visits,
    less edge_credit_minutes each side), where the officer may have been at work:

    - a declared office day whose unseen on-duty minutes (its declared office shifts widened by
      duty_grace_minutes) reach min(office_day_min_hours, half the declared office time), the
      bar DECLARED_OFFICE_UNVERIFIED holds when it counts every unknown minute as presence
      (a phone that reports one position and is silent for hours, an iOS phone still at home
      whose significant-change updates stop while a spoofing app holds one position, leaves
      such a stretch);
    - an overtime claim covered by on-duty shifts for at least check_min_coverage of it (so only
      the device can show the officer away) of which the device sees less than
      check_min_coverage (a throttled phone's one fix in a three-hour claim says nothing of the
      rest of it)."""
    grace = timedelta(minutes=policy.duty_grace_minutes)
    bridge = timedelta(minutes=policy.bridge_max_minutes)
    credit = timedelta(minutes=policy.edge_credit_minutes)
    keys = planted.get("DECLARED_OFFICE_UNVERIFIED", set()) | planted.get(
        "OVERTIME_UNVERIFIED", set()
    )
    officers = sorted({o for o, _ in keys})
    local = pl.col("start_at").dt.convert_time_zone(force.tz).dt.date()
    duty = shifts.filter(
        pl.col("officer_id").is_in(officers)
        & pl.col("kind").is_in(["duty", "overtime", "training"])
    ).with_columns(date=local)
    claims = (
        force.overtime.rename({"start": "start_at", "end": "end_at"})
        .filter(pl.col("officer_id").is_in(officers))
        .with_columns(date=local)
    )
    fixes = force.pings.filter(pl.col("officer_id").is_in(officers))
    visits = force.visits

    def device(officer: str) -> tuple[pl.DataFrame, pl.DataFrame | None]:
        own = visits.filter(pl.col("officer_id") == officer) if visits is not None else None
        return fixes.filter(pl.col("officer_id") == officer), own

    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for officer, day in planted.get("DECLARED_OFFICE_UNVERIFIED", set()):
        rows = duty.filter(
            (pl.col("officer_id") == officer)
            & (pl.col("date") == date.fromisoformat(day))
            & (pl.col("declared_location") == "office")
        )
        if rows.is_empty():
            continue
        lo: datetime = rows["start_at"].min() - grace  # type: ignore[operator,assignment]
        hi: datetime = rows["end_at"].max() + grace  # type: ignore[operator,assignment]
        declared = float((rows["end_at"] - rows["start_at"]).dt.total_seconds().sum()) / 60.0
        unseen = _unseen(lo, hi, *device(officer), bridge, credit).total_seconds() / 60.0
        if unseen >= min(policy.office_day_min_hours * 60.0, declared / 2.0):
            out["DECLARED_OFFICE_UNVERIFIED"].add((officer, day))
    for officer, day in planted.get("OVERTIME_UNVERIFIED", set()):
        own = claims.filter(
            (pl.col("officer_id") == officer) & (pl.col("date") == date.fromisoformat(day))
        )
        mine = duty.filter(pl.col("officer_id") == officer)
        for lo, hi in own.select("start_at", "end_at").iter_rows():
            length = (hi - lo).total_seconds()
            rostered = sum(
                max(0.0, (min(hi, b + grace) - max(lo, a - grace)).total_seconds())
                for a, b in mine.select("start_at", "end_at").iter_rows()
            )
            seen = length - _unseen(lo, hi, *device(officer), bridge, credit).total_seconds()
            if (
                rostered >= policy.check_min_coverage * length
                and seen < policy.check_min_coverage * length
            ):
                out["OVERTIME_UNVERIFIED"].add((officer, day))
    return out


def _swiper_days(
    swipes: pl.DataFrame, windows: pl.DataFrame, tz: str, period: tuple[date, date], habit_days: int
) -> set[tuple[str, str]]:
    """(officer_id, ISO date) of the days of ``period`` on which the officer is known to swipe:
    a granted on-duty swipe (in ``windows``) in the ``habit_days`` local days before the day
    (DayInputs.swipers, as store.dayload.load_swipers reads them) or on the day after (in the
    day's own inputs)."""
    granted = swipes.filter(pl.col("granted").fill_null(False))
    dates = (
        granted.filter(_covered(granted, windows))
        .select("officer_id", date=pl.col("ts").dt.convert_time_zone(tz).dt.date())
        .unique()
    )
    first, last = period
    out: set[tuple[str, str]] = set()
    for officer, day in dates.iter_rows():
        for k in range(-1, habit_days + 1):
            d = day + timedelta(days=k)
            if k != 0 and first <= d <= last:
                out.add((officer, d.isoformat()))
    return out


def _jump_days(pings: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """officer_id, date, n_jumps: steps between consecutive on-duty fixes of the officer, both
    labelled GPS and within flag_fix_max_accuracy_m, at least travel_min_distance_m apart less
    both accuracies, at a speed above max_speed_kmh, with each end seen twice: the precise fix
    before the step lies within travel_confirm_share of the step's distance of its start, and
    the one after it as near its end. That is what impossible travel is; a single far fix (one
    GPS glitch between station fixes) proves nothing, and a spoofing app's jump an hour between
    a throttled phone's fixes shows no impossible speed."""
    precise = pings.filter(pl.col("accuracy_m") <= policy.flag_fix_max_accuracy_m).sort(
        "officer_id", "ts"
    )

    def at(col: str, n: int) -> pl.Expr:
        return pl.col(col).shift(n).over("officer_id")

    gps = pl.col("source") == "gps"
    raw = haversine_m(at("lat", 1), at("lon", 1), pl.col("lat"), pl.col("lon"))
    metres = raw - (at("accuracy_m", 1) + pl.col("accuracy_m"))
    hours = (pl.col("ts") - at("ts", 1)).dt.total_microseconds() / 3.6e9
    near = policy.travel_confirm_share * raw
    jump = (
        gps
        & gps.shift(1).over("officer_id")
        & (metres >= policy.travel_min_distance_m)
        & (metres / 1000.0 > policy.max_speed_kmh * hours)
        & (haversine_m(at("lat", 2), at("lon", 2), at("lat", 1), at("lon", 1)) <= near)
        & (haversine_m(at("lat", -1), at("lon", -1), pl.col("lat"), pl.col("lon")) <= near)
    )
    return precise.group_by("officer_id", "date").agg(n_jumps=jump.fill_null(False).sum())


def _provably_below(force: Force, rule: float = 0.80) -> set[str]:
    """Office-based officers below the rule even if every office day the data leaves unknown
    (the truth's insufficient-evidence office days) were an office day."""
    days = force.truth_days.filter(pl.col("expected_office")).join(
        force.officers.filter(pl.col("office_based")).select("officer_id"), on="officer_id"
    )
    unknown = (pl.col("evidence_expected") != "adequate") & (
        pl.col("declared_location") == "office"
    )
    known_office = pl.col("true_office_day") & (pl.col("evidence_expected") == "adequate")
    upper = days.group_by("officer_id").agg(upper=(known_office.sum() + unknown.sum()) / pl.len())
    return set(upper.filter(pl.col("upper") < rule - 1e-9)["officer_id"])


def _profile_of(force: Force) -> pl.DataFrame:
    """officer_id, profile (every device continuous Android when the force has no device truth)."""
    if force.truth_devices is None:
        return force.officers.select("officer_id", profile=pl.lit("android_continuous"))
    return force.truth_devices.select("officer_id", "profile")


def _bounds(rows: pl.DataFrame) -> pl.DataFrame:
    """Compliance rows with the share's bounds: unknown days counted as not office / as office."""
    if "office_share_lower" in rows.columns:
        return rows
    exp = pl.col("expected_office_days").cast(pl.Float64)
    ver = pl.col("verified_office_days").cast(pl.Float64)
    ins = pl.col("insufficient_evidence_days").cast(pl.Float64)
    return rows.with_columns(
        office_share_lower=pl.when(exp > 0).then(ver / exp),
        office_share_upper=pl.when(exp > 0).then((ver + ins) / exp),
    )


def fairness(
    result: RunResult,
    found: dict[str, set[tuple[str, str]]],
    planted: dict[str, set[tuple[str, str]]],
    provable: dict[str, set[tuple[str, str]]],
    flagged_honest: set[str],
) -> dict[str, dict[str, Any]]:
    """Figures per device profile (and "all"): honest officers flagged, flag precision and
    recall, office-day accuracy on assessed days, share interval coverage and midpoint error,
    coverage (assessed / expected office days)."""
    force = result.force
    prof = _profile_of(force)
    truth = force.truth_days.filter(pl.col("expected_office")).join(
        result.daily.select("officer_id", "date", "verified_office_day", "evidence"),
        on=["officer_id", "date"],
        how="left",
    )
    truth = truth.join(prof, on="officer_id", how="left")
    shares = (
        force.truth_officers.filter(pl.col("true_office_share").is_not_null())
        .join(_bounds(result.compliance), on="officer_id", how="left")
        .join(prof, on="officer_id", how="left")
    )
    honest = force.truth_officers.filter(pl.col("honest")).join(prof, on="officer_id")
    out: dict[str, dict[str, Any]] = {}
    for name in ("all", *sorted(prof["profile"].unique().to_list())):
        pick = pl.lit(True) if name == "all" else pl.col("profile") == name
        members = set(prof.filter(pick)["officer_id"])
        t = truth.filter(pick)
        assessed = t.filter(pl.col("evidence") == "adequate")
        correct = assessed.filter(pl.col("verified_office_day") == pl.col("true_office_day"))
        sh = shares.filter(pick)
        inside = sh.filter(
            (pl.col("true_office_share") >= pl.col("office_share_lower") - 6e-5)
            & (pl.col("true_office_share") <= pl.col("office_share_upper") + 6e-5)
        )
        mid = sh.filter(pl.col("verified_office_share").is_not_null()).select(
            (
                (pl.col("office_share_lower") + pl.col("office_share_upper")) / 2
                - pl.col("true_office_share")
            )
            .abs()
            .mean()
        )
        tp = fp = fn = 0
        for code in CODES:
            f = {k for k in found[code] if k[0] in members}
            p = {k for k in planted[code] if k[0] in members}
            q = {k for k in provable[code] if k[0] in members}
            tp, fp, fn = tp + len(f & p), fp + len(f - p), fn + len(q - f)
        n_honest = honest.filter(pick).height
        out[name] = {
            "officers": len(members),
            "honest_officers": n_honest,
            "honest_flagged": len(flagged_honest & members),
            "honest_flagged_share": _ratio(len(flagged_honest & members), n_honest),
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "office_day_accuracy_assessed": _ratio(correct.height, assessed.height),
            "coverage": _ratio(assessed.height, t.height),
            "interval_coverage": _ratio(inside.height, sh.height),
            "midpoint_mae_points": None if mid.item() is None else float(mid.item()) * 100,
        }
    return out


def profile_table(profiles: dict[str, dict[str, Any]]) -> list[str]:
    """One line per device profile of the fairness figures."""
    cols = (
        ("officers", "officers"),
        ("honest_flagged_share", "honest flagged"),
        ("precision", "precision"),
        ("recall", "recall"),
        ("office_day_accuracy_assessed", "day acc"),
        ("coverage", "coverage"),
        ("interval_coverage", "interval"),
        ("midpoint_mae_points", "mid err pts"),
    )
    lines = ["  " + f"{'profile':<20}" + "".join(f"{h:>15}" for _, h in cols)]
    for name, p in profiles.items():
        lines.append("  " + f"{name:<20}" + "".join(f"{_fmt(p[k]):>15}" for k, _ in cols))
    return lines


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def report(label: str, s: dict[str, Any]) -> str:
    """A readable table of one run's figures, with misses listed for diagnosis."""
    lines = [f"== {label} =="]
    checks = [
        ("office-day accuracy (adequate days)", s["office_day_accuracy"], ">=", 0.98),
        (
            "  same, days the engine graded adequate",
            s["office_day_accuracy_both_adequate"],
            "",
            None,
        ),
        ("presence MAE (minutes, adequate days)", s["presence_mae_minutes"], "", None),
        ("office share MAE (points)", s["share_mae_points"], "<=", 2.0),
        ("80% rule agreement", s["rule_agreement"], "", None),
        ("evidence grade agreement", s["evidence_agreement"], "", None),
        ("flag precision (all codes)", s["precision"], ">=", 0.90),
        ("flag recall (all codes)", s["recall"], ">=", 0.85),
        ("honest officers flagged (share)", s["honest_flagged_share"], "<=", 0.03),
        ("off-duty leaks", s["off_duty_leaks"], "<=", 0),
    ]
    for name, value, op, target in checks:
        status = ""
        if target is not None and value is not None:
            ok = value >= target if op == ">=" else value <= target
            status = "ok" if ok else "MISSED"
        tgt = f"{op} {target}" if target is not None else ""
        lines.append(f"  {name:<38} {_fmt(value):>10}  {tgt:<8} {status}")
    lines.append(
        f"  {'code':<28} {'planted':>7} {'provable':>8} {'flagged':>7} {'tp':>4} "
        f"{'prec':>7} {'recall':>7}"
    )
    for code, c in s["per_code"].items():
        lines.append(
            f"  {code:<28} {c['planted']:>7} {c['provable']:>8} {c['flagged']:>7} {c['tp']:>4} "
            f"{_fmt(c['precision']):>7} {_fmt(c['recall']):>7}"
        )
    for code, c in s["per_code"].items():
        if c["false_positives"]:
            lines.append(f"  false positives {code}: {c['false_positives']}")
        if c["missed"]:
            lines.append(f"  missed {code}: {c['missed']}")
    lines += profile_table(s["profiles"])
    lines.append(
        f"  conflict leads on phone-at-home days: {s['conflict_leads']} of {s['conflict_days']}"
    )
    if s["office_day_error_kinds"]:
        lines.append(f"  office-day errors by kind: {s['office_day_error_kinds']}")
    for row in s["office_day_errors"]:
        lines.append(f"  office-day error: {row}")
    if s["honest_flagged"]:
        lines.append(f"  honest officers flagged: {s['honest_flagged']}")
    for ex in s["leak_detail"]["examples"][:6]:
        lines.append(f"  leak: {ex}")
    lines.append(f"  masked at intake: {s['masked']}  seconds: {s['seconds']}")
    return "\n".join(lines)


def _summary(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "office_day_accuracy": s["office_day_accuracy"],
        "office_day_accuracy_both_adequate": s["office_day_accuracy_both_adequate"],
        "office_day_error_kinds": s["office_day_error_kinds"],
        "presence_mae_minutes": round(s["presence_mae_minutes"], 1),
        "share_mae_points": round(s["share_mae_points"], 3),
        "rule_agreement": s["rule_agreement"],
        "precision": s["precision"],
        "recall": s["recall"],
        "per_code": {
            k: {"precision": v["precision"], "recall": v["recall"], "planted": v["planted"]}
            for k, v in s["per_code"].items()
        },
        "honest_flagged_share": s["honest_flagged_share"],
        "off_duty_leaks": s["off_duty_leaks"],
        "evidence_agreement": s["evidence_agreement"],
        "conflict_leads": s["conflict_leads"],
        "conflict_days": s["conflict_days"],
        "profiles": s["profiles"],
    }


def _roster_integrity(args: argparse.Namespace, policy: Policy) -> dict[str, Any]:
    """The roster-integrity codes on a force with planted roster abuse (bench.accuracy_integrity),
    at each noise level; printed as a table, returned as figures."""
    from bench.accuracy_integrity import integrity_accuracy, integrity_report

    out = {}
    for noise in args.noise[:1] if quick_mode() else args.noise:
        fig = integrity_accuracy(args.seed, args.officers, args.start, args.days, policy, noise)
        print(f"noise={noise}: " + integrity_report(fig))
        out[f"noise_{noise:g}"] = fig
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark at noise 1.0 and 2.0; print tables, then one JSON line of figures."""
    quick = quick_mode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--officers", type=int, default=60 if quick else 150)
    parser.add_argument("--days", type=int, default=14 if quick else 28)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 12))
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--noise", type=float, nargs="+", default=[1.0, 2.0])
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="realistic: every real-device phenomenon on (fixtures/_realistic.py)",
    )
    args = parser.parse_args(argv)
    run = Run("accuracy", postgres=False)
    policy = load_policy()
    figures: dict[str, Any] = {
        "officers": args.officers,
        "days": args.days,
        "start": args.start.isoformat(),
        "seed": args.seed,
        "preset": args.preset,
        "policy_version": policy.version,
        "targets": FAIR_TARGETS if args.preset == "realistic" else TARGETS,
    }
    for noise in args.noise:
        t0 = time.perf_counter()
        force = generate_force(
            args.seed,
            args.officers,
            args.start,
            args.days,
            noise=noise,
            phenomena=PRESETS[args.preset],
        )
        gen_s = time.perf_counter() - t0
        result = run_pipeline(force, policy)
        s = score(result, policy)
        label = f"noise={noise} ({force.pings.height} pings, generated in {gen_s:.1f} s)"
        print(report(label, s))
        figures[f"noise_{noise:g}"] = _summary(s)
    figures["roster_integrity"] = _roster_integrity(args, policy)
    run.finish(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
