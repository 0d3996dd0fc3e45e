"""ROSTER_RETRO_EDIT: on-duty time added after the shift ended that presence does not support."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from rules.clock import INSTANT
from rules.daily import day_shifts
from rules.findings import Finding, make_finding
from rules.flags.context import FlagContext
from rules.intervals import overlap_minutes
from rules.masking import ON_DUTY_KINDS
from rules.records import DeclaredLocation

CODE = "ROSTER_RETRO_EDIT"
RULE_VERSION = f"{CODE}/3"


def _version_at_end(
    history: pl.DataFrame, shift_id: str, end_at: datetime
) -> dict[str, Any] | None:
    """The version of ``shift_id`` the roster held when the shift ended (None if none is known).

    A version's time is the roster system's own (``updated_at``, else ``created_at``); the time
    it was stored here (``recorded_at``) only when the roster gave none: a shift imported after
    it ended was still in the roster system before, and an edit after the end is then compared
    with that version instead of being checked as if the whole shift were new.
    """
    rows = history.filter(
        (pl.col("shift_id") == shift_id)
        & (pl.coalesce("updated_at", "created_at", "recorded_at") <= end_at)
    ).sort("version")
    return rows.row(-1, named=True) if rows.height else None


def retro_intervals(ctx: FlagContext) -> list[dict[str, Any]]:
    """On-duty shifts starting on the day that were created or changed after they ended.

    For each: the on-duty time the late entry added (``added``: list of (start, end)). A shift
    the roster system created after it ended adds all of it. One changed after it ended adds what
    lies outside the version in force when it ended (_version_at_end: dated by the roster's own
    times). When no stored version is known to have held at the end (the roster was first
    imported after the change), what the change added is unknown, so nothing is checked: only
    the difference between two known versions, or a creation after the end, adds time. Shortening
    a shift or changing its declared location adds nothing.
    """
    shifts = (
        day_shifts(ctx.shifts, ctx.day, ctx.tz)
        .filter(
            pl.col("kind").is_in(ON_DUTY_KINDS)
            & (
                (pl.col("created_at") > pl.col("end_at")).fill_null(False)
                | (pl.col("updated_at") > pl.col("end_at")).fill_null(False)
            )
        )
        .sort("shift_id")
    )
    out: list[dict[str, Any]] = []
    for s in shifts.iter_rows(named=True):
        start, end = s["start_at"], s["end_at"]
        created_late = s["created_at"] is not None and s["created_at"] > end
        old = None if created_late else _version_at_end(ctx.shift_history, s["shift_id"], end)
        if old is None and not created_late:
            continue
        if old is None or old["kind"] not in ON_DUTY_KINDS:
            added = [(start, end)]
        else:
            added = []
            if start < old["start_at"]:
                added.append((start, min(end, old["start_at"])))
            if end > old["end_at"]:
                added.append((max(start, old["end_at"]), end))
        added = [(a, b) for a, b in added if b > a]
        if added:
            out.append({**s, "created_late": created_late, "added": added, "old": old})
    return out


def detect(ctx: FlagContext) -> list[Finding]:
    """Findings for late on-duty roster time at a station that presence evidence does not support.

    Only office-declared (or station-rostered, undeclared) shifts can be contradicted: for remote
    and field shifts, being away from stations is expected. Raised when the device placed the
    officer away from every station (or reported simulated fixes) for at least
    check_min_coverage of the added time and station presence covers less than
    support_share of it. A silent device (data missing or already purged) raises nothing: a late
    but unsupported-by-data entry is not suspicion; nor does a day on which badge and device
    disagree (``ctx.conflicts``): the conflict is the lead, not the absence.
    """
    candidates = [
        r
        for r in retro_intervals(ctx)
        if r["officer_id"] not in ctx.conflicts
        and (
            r["declared_location"] == DeclaredLocation.OFFICE
            or (r["declared_location"] is None and r["station_id"] is not None)
        )
    ]
    if not candidates:
        return []
    measured = overlap_minutes(_queries(candidates), ctx.segments)
    findings: list[Finding] = []
    for r in candidates:
        parts = measured.filter(pl.col("q_id").str.starts_with(f"{r['shift_id']}#"))
        minutes = {k: float(parts[f"{k}_minutes"].sum()) for k in ("q", "presence", "away", "mock")}
        total, presence = minutes["q"], minutes["presence"]
        elsewhere = minutes["away"] + minutes["mock"]
        if (
            elsewhere < ctx.policy.check_min_coverage * total
            or presence >= ctx.policy.support_share * total
        ):
            continue
        findings.append(_finding(ctx, r, minutes))
    return findings


def _queries(candidates: list[dict[str, Any]]) -> pl.DataFrame:
    """One interval query (rules.intervals.overlap_minutes) per added interval of each candidate,
    identified as ``<shift_id>#<n>``."""
    return pl.DataFrame(
        [
            {
                "officer_id": r["officer_id"],
                "q_id": f"{r['shift_id']}#{i}",
                "q_start": a,
                "q_end": b,
            }
            for r in candidates
            for i, (a, b) in enumerate(r["added"])
        ],
        schema={"officer_id": pl.Utf8, "q_id": pl.Utf8, "q_start": INSTANT, "q_end": INSTANT},
    )


def _finding(ctx: FlagContext, r: dict[str, Any], minutes: dict[str, float]) -> Finding:
    """The finding for late shift ``r`` with the minutes measured over its added time (``q``:
    all of it; ``presence``, ``away``, ``mock``)."""
    policy = ctx.policy
    total, presence, away = minutes["q"], minutes["presence"], minutes["away"]
    late_at = r["created_at"] if r["created_late"] else r["updated_at"]
    what = "created" if r["created_late"] else "changed"
    summary = (
        f"Shift {r['shift_id']} of officer {r['officer_id']} on {ctx.day.isoformat()} was "
        f"{what} at {ctx.local(late_at)}, after it ended at {ctx.local(r['end_at'])}; of the "
        f"{total:.0f} on-duty minutes this added, station presence covers {presence:.0f} while "
        f"the device placed the officer away from every station for {away:.0f}."
    )
    old = r["old"]
    evidence = {
        **ctx.base_evidence(),
        "shift_id": r["shift_id"],
        "kind": r["kind"],
        "declared_location": r["declared_location"],
        "station_id": r["station_id"],
        "start": ctx.local(r["start_at"]),
        "end": ctx.local(r["end_at"]),
        "created_at": ctx.local(r["created_at"]) if r["created_at"] else None,
        "updated_at": ctx.local(r["updated_at"]) if r["updated_at"] else None,
        "edit": what,
        "version_at_end": None
        if old is None
        else {
            "version": old["version"],
            "kind": old["kind"],
            "start": ctx.local(old["start_at"]),
            "end": ctx.local(old["end_at"]),
        },
        "added_intervals": [{"start": ctx.local(a), "end": ctx.local(b)} for a, b in r["added"]],
        "added_minutes": total,
        "presence_minutes": presence,
        "away_minutes": away,
        "mock_minutes": minutes["mock"],
        "thresholds": {
            "check_min_coverage": policy.check_min_coverage,
            "support_share": policy.support_share,
        },
    }
    return make_finding(
        CODE,
        RULE_VERSION,
        r["officer_id"],
        ctx.day,
        summary,
        evidence,
        (r["shift_id"], what, r["start_at"], r["end_at"]),
    )
