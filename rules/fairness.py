"""How the rules perform and for whom: per-rule precision from reviews, flag and dismissal rates
by group, each with a 95% Wilson interval; small counts are reported as counts only."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from rules.flags.below_office_share import CODE as COMPLIANCE_CODE
from rules.records import FlagStatus

Z95 = 1.959963984540054
# A proportion whose numerator or denominator is below this is shown as counts, never a rate.
MIN_COUNT = 10
GROUPS = ("unit", "rank", "platform", "shift_pattern")
DECIDED = (FlagStatus.DISMISSED.value, FlagStatus.SUBSTANTIATED.value)
REVIEWED = (FlagStatus.UNDER_REVIEW.value, *DECIDED)
# A shift starting at or after 18:00, or before 06:00, local time, is a night shift.
NIGHT_FROM_HOUR, NIGHT_UNTIL_HOUR = 18, 6

FLAGS_INPUT = ("officer_id", "date", "code", "misconduct", "status")
DAYS_INPUT = ("officer_id", "date", "shift_pattern")
OFFICERS_INPUT = ("officer_id", "unit", "rank", "platform", "office_based")


def wilson(count: int, total: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (low, high) of ``count`` successes in ``total`` trials (> 0).

    Unlike the normal approximation it stays inside [0, 1] and is sensible near 0 and 1.
    """
    if total <= 0:
        raise ValueError("total must be positive")
    p = count / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / (1 + z2 / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(count: int, total: int, min_count: int = MIN_COUNT) -> dict[str, Any]:
    """``count`` of ``total`` with its rate and 95% Wilson interval, or counts alone
    (``shown_as: counts``) when either is below ``min_count``."""
    out: dict[str, Any] = {"count": count, "of": total}
    if count < min_count or total < min_count:
        return {**out, "rate": None, "low": None, "high": None, "shown_as": "counts"}
    low, high = wilson(count, total)
    return {
        **out,
        "rate": round(count / total, 4),
        "low": round(low, 4),
        "high": round(high, 4),
        "shown_as": "rate",
    }


def _above(share: dict[str, Any], force_rate: float | None) -> bool:
    """Whether the group's whole interval lies above the force-wide rate."""
    return share["low"] is not None and force_rate is not None and share["low"] > force_rate


def _rules(flags: pl.DataFrame, min_count: int) -> list[dict[str, Any]]:
    per_code = (
        flags.group_by("code")
        .agg(
            raised=pl.len(),
            reviewed=pl.col("status").is_in(REVIEWED).sum(),
            dismissed=(pl.col("status") == "dismissed").sum(),
            substantiated=(pl.col("status") == "substantiated").sum(),
        )
        .sort("code")
    )
    return [
        {
            **row,
            "precision": proportion(
                row["substantiated"], row["substantiated"] + row["dismissed"], min_count
            ),
        }
        for row in per_code.iter_rows(named=True)
    ]


def _group_rows(
    days: pl.DataFrame,
    flagged: pl.DataFrame,
    decided: pl.DataFrame,
    by: str,
    force: dict[str, Any],
    min_count: int,
) -> list[dict[str, Any]]:
    day_counts = days.group_by(by).agg(officer_days=pl.len())
    flag_counts = flagged.group_by(by).agg(flagged_days=pl.len())
    decided_counts = decided.group_by(by).agg(
        decided=pl.len(), dismissed=(pl.col("status") == "dismissed").sum()
    )
    table = (
        day_counts.join(flag_counts, on=by, how="full", coalesce=True)
        .join(decided_counts, on=by, how="full", coalesce=True)
        .fill_null(0)
        .sort(by, nulls_last=True)
    )
    out = []
    for row in table.iter_rows(named=True):
        rate = proportion(row["flagged_days"], row["officer_days"], min_count)
        dismissal = proportion(row["dismissed"], row["decided"], min_count)
        out.append(
            {
                "group": row[by],
                "officer_days": row["officer_days"],
                "flagged_days": row["flagged_days"],
                "flag_rate": rate,
                "flag_rate_above_force": _above(rate, force["flag_rate"]["rate"]),
                "decided": row["decided"],
                "dismissed": row["dismissed"],
                "dismissal_rate": dismissal,
                "dismissal_rate_above_force": _above(dismissal, force["dismissal_rate"]["rate"]),
            }
        )
    return out


def _below_share_by_unit(
    flags: pl.DataFrame, officers: pl.DataFrame, min_count: int
) -> list[dict[str, Any]]:
    office = officers.filter(pl.col("office_based").fill_null(False))
    below = (
        flags.filter(pl.col("code") == COMPLIANCE_CODE)
        .select("officer_id")
        .unique()
        .with_columns(below=pl.lit(True))
    )
    table = (
        office.join(below, on="officer_id", how="left")
        .group_by("unit")
        .agg(officers=pl.len(), below=pl.col("below").fill_null(False).sum())
        .sort("unit", nulls_last=True)
    )
    return [
        {
            "unit": row["unit"],
            "office_based_officers": row["officers"],
            "below_share": proportion(row["below"], row["officers"], min_count),
        }
        for row in table.iter_rows(named=True)
    ]


def fairness(
    flags: pl.DataFrame,
    days: pl.DataFrame,
    officers: pl.DataFrame,
    *,
    min_count: int = MIN_COUNT,
) -> dict[str, Any]:
    """The fairness report of a period.

    ``flags`` (FLAGS_INPUT; withdrawn flags already left out) and ``days`` (DAYS_INPUT: every
    on-duty officer-day of the period, ``shift_pattern`` day/night or null) are joined to
    ``officers`` (OFFICERS_INPUT). Per rule: raised, reviewed, dismissed, substantiated and the
    observed precision (substantiated / decided). Per unit, rank, device platform and shift
    pattern: the share of on-duty days with a misconduct flag and the share of decided
    misconduct flags dismissed, each marked when its interval lies wholly above the force-wide
    rate. BELOW_OFFICE_SHARE: the share of office-based officers flagged, by unit.
    """
    people = officers.select(OFFICERS_INPUT).unique("officer_id", keep="first")
    on_days = days.select(DAYS_INPUT).join(people, on="officer_id", how="left")
    misconduct = flags.filter(pl.col("misconduct"))
    flagged = (
        misconduct.select("officer_id", "date")
        .unique()
        .join(on_days, on=["officer_id", "date"], how="inner")
    )
    decided = (
        misconduct.filter(pl.col("status").is_in(DECIDED))
        .join(people, on="officer_id", how="left")
        .join(days.select(DAYS_INPUT), on=["officer_id", "date"], how="left")
    )
    n_dismissed = decided.filter(pl.col("status") == "dismissed").height
    force = {
        "officer_days": on_days.height,
        "flagged_days": flagged.height,
        "flag_rate": proportion(flagged.height, on_days.height, min_count),
        "decided": decided.height,
        "dismissed": n_dismissed,
        "dismissal_rate": proportion(n_dismissed, decided.height, min_count),
    }
    return {
        "force": force,
        "rules": _rules(flags, min_count),
        "groups": {
            by: _group_rows(on_days, flagged, decided, by, force, min_count) for by in GROUPS
        },
        "below_office_share_by_unit": _below_share_by_unit(flags, people, min_count),
        "min_count": min_count,
    }
