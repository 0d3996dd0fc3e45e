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

    - expected_office_days: days with an on-duty shift declared office or remote;
    - declared_office_days: expected days declared office;
    - verified_office_days: expected days with presence >= office_day_min_hours;
    - insufficient_evidence_days: expected days graded insufficient_evidence. They are reported,
      and left out of the share's denominator: missing data is never counted as absence;
    - verified_office_share = verified / (expected - insufficient); null when that is 0 (no
      expected day, or none with adequate evidence);
    - meets_policy = share >= min_office_share; true when the share is null (nothing shows the
      rule was broken).
    A BELOW_OFFICE_SHARE finding (misconduct False) dated ``period_end`` for each row not meeting
    the policy. The period starts at the earliest date in ``daily`` (``period_end`` if empty).
    Daily rows of officers not office-based are ignored. ``with_findings=False`` skips building
    the findings (for reports that only show the rows).
    """
    people = conform(officers, OFFICERS, "officers").filter(pl.col("office_based").fill_null(False))
    expected = daily.filter(pl.col("expected_office"))
    counts = expected.group_by("officer_id").agg(
        expected_office_days=pl.col("date").n_unique(),
        declared_office_days=pl.col("date")
        .filter(pl.col("declared_location") == "office")
        .n_unique(),
        verified_office_days=pl.col("date").filter(pl.col("verified_office_day")).n_unique(),
        insufficient_evidence_days=pl.col("date")
        .filter((pl.col("evidence") == INSUFFICIENT) & ~pl.col("verified_office_day"))
        .n_unique(),
    )
    assessed = pl.col("expected_office_days") - pl.col("insufficient_evidence_days")
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
            ).fill_null(0)
        )
        .with_columns(
            verified_office_share=pl.when(assessed > 0).then(
                pl.col("verified_office_days").cast(pl.Float64) / assessed.cast(pl.Float64)
            ),
        )
        .with_columns(
            meets_policy=pl.col("verified_office_share").is_null()
            | (pl.col("verified_office_share") >= policy.min_office_share),
        )
        .select(list(COMPLIANCE))
        .cast(COMPLIANCE)  # type: ignore[arg-type]
        .sort("officer_id")
    )
    if not with_findings:
        return rows, []
    first = daily["date"].min() if daily.height else None
    start = first if isinstance(first, date) else period_end
    findings = [
        below_office_share.finding(r, policy, start, period_end)
        for r in rows.filter(~pl.col("meets_policy")).iter_rows(named=True)
    ]
    return rows, findings
