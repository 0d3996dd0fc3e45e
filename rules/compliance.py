"""Period compliance with the hybrid-working rule (CONTRACT §4, §6) and BELOW_OFFICE_SHARE."""

from __future__ import annotations

from datetime import date

import polars as pl

from rules.daily import INSUFFICIENT
from rules.findings import Finding
from rules.flags import below_office_share
from rules.policy import Policy
from rules.schemas import COMPLIANCE, OFFICERS, conform

# The daily columns compliance() reads: a report may load only these.
COMPLIANCE_INPUT = (
    "officer_id",
    "date",
    "expected_office",
    "declared_location",
    "verified_office_day",
    "evidence",
)


def compliance(
    daily: pl.DataFrame,
    officers: pl.DataFrame,
    policy: Policy,
    period_end: date,
    *,
    with_findings: bool = True,
) -> tuple[pl.DataFrame, list[Finding]]:
    """One row per office-based officer over the daily rows given (the period), and findings.

    - expected_office_days (E): days with an on-duty shift declared office or remote;
    - declared_office_days (D): expected days declared office;
    - verified_office_days (V): expected days with presence >= office_day_min_hours;
    - insufficient_evidence_days (U): declared office days graded insufficient_evidence and not
      verified: nothing is known of them. A declared remote day is known not to be an office
      day without any location evidence, so it is never unknown;
    - office_share_lower = V / E (every unknown day not an office day) and office_share_upper =
      (V + U) / E (every unknown day an office day): the true share lies between them;
    - verified_office_share: the estimate V / E + (U / E) x (verified share of the assessed
      declared office days). Unknown days are office-declared days, so they are estimated from
      the officer's other office-declared days, never from remote days: the estimate's error
      does not depend on where the officer declared to be. Null (insufficient evidence for a
      share) when fewer than share_min_assessed_days expected days, or less than
      share_min_assessed_fraction of them, are assessed;
    - meets_policy is false only when even office_share_upper is below min_office_share: missing
      data never counts as absence, and a handful of days cannot break the rule.
    A BELOW_OFFICE_SHARE finding (misconduct False) dated ``period_end`` for each row not meeting
    the policy. The period starts at the earliest date in ``daily`` (``period_end`` if empty).
    Daily rows of officers not office-based are ignored. ``with_findings=False`` skips building
    the findings (for reports that only show the rows).
    """
    first = daily["date"].min() if daily.height else None
    start = first if isinstance(first, date) else period_end
    return compliance_of_counts(
        period_counts(daily), officers, policy, start, period_end, with_findings=with_findings
    )


# Per-officer day counts over a period (period_counts), the only input compliance_of_counts needs.
PERIOD_COUNTS: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "expected_office_days": pl.UInt32(),
    "declared_office_days": pl.UInt32(),
    "verified_office_days": pl.UInt32(),
    "insufficient_evidence_days": pl.UInt32(),
    "_verified_declared": pl.UInt32(),
}


def period_counts(daily: pl.DataFrame) -> pl.DataFrame:
    """Per officer, distinct expected days: all (E), declared office (D), verified (V), unknown
    (U: declared office, graded insufficient_evidence and not verified) and ``_verified_declared``
    (declared office and verified). A null in a condition counts the day in neither side. The
    definitions are those of ``compliance``; a store may compute the same counts in SQL."""
    expected = daily.filter(pl.col("expected_office"))
    office = pl.col("declared_location") == "office"
    unknown = office & (pl.col("evidence") == INSUFFICIENT) & ~pl.col("verified_office_day")
    return expected.group_by("officer_id").agg(
        expected_office_days=pl.col("date").n_unique(),
        declared_office_days=pl.col("date").filter(office).n_unique(),
        verified_office_days=pl.col("date").filter(pl.col("verified_office_day")).n_unique(),
        insufficient_evidence_days=pl.col("date").filter(unknown).n_unique(),
        _verified_declared=pl.col("date").filter(office & pl.col("verified_office_day")).n_unique(),
    )


def compliance_of_counts(
    counts: pl.DataFrame,
    officers: pl.DataFrame,
    policy: Policy,
    period_start: date,
    period_end: date,
    *,
    with_findings: bool = True,
) -> tuple[pl.DataFrame, list[Finding]]:
    """``compliance`` from per-officer counts (period_counts' columns) of the period
    ``period_start``..``period_end``: the rows and their BELOW_OFFICE_SHARE findings."""
    people = conform(officers, OFFICERS, "officers").filter(pl.col("office_based").fill_null(False))
    e = pl.col("expected_office_days").cast(pl.Float64)
    v = pl.col("verified_office_days").cast(pl.Float64)
    u = pl.col("insufficient_evidence_days").cast(pl.Float64)
    assessed = e - u
    assessed_office = pl.col("declared_office_days").cast(pl.Float64) - u
    rate = pl.when(assessed_office > 0).then(
        pl.col("_verified_declared").cast(pl.Float64) / assessed_office
    )
    enough = (assessed >= policy.share_min_assessed_days) & (
        assessed >= policy.share_min_assessed_fraction * e
    )
    rows = (
        people.select("officer_id", "unit")
        .unique("officer_id", keep="first")
        .join(counts, on="officer_id", how="left")
        .with_columns(
            pl.col(
                "expected_office_days",
                "declared_office_days",
                "verified_office_days",
                "insufficient_evidence_days",
                "_verified_declared",
            ).fill_null(0)
        )
        .with_columns(
            office_share_lower=pl.when(e > 0).then(v / e),
            office_share_upper=pl.when(e > 0).then((v + u) / e),
            verified_office_share=pl.when((e > 0) & enough).then((v + u * rate.fill_null(0.0)) / e),
        )
        .with_columns(
            meets_policy=pl.col("office_share_upper").is_null()
            | (pl.col("office_share_upper") >= policy.min_office_share - 1e-9),
        )
        .select(list(COMPLIANCE))
        .cast(COMPLIANCE)  # type: ignore[arg-type]
        .sort("officer_id")
    )
    if not with_findings:
        return rows, []
    findings = [
        below_office_share.finding(r, policy, period_start, period_end)
        for r in rows.filter(~pl.col("meets_policy")).iter_rows(named=True)
    ]
    return rows, findings
