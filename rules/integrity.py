"""Roster integrity: self-approved and overlapping claims, self-edits and edit clusters (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import networkx as nx
import polars as pl

from rules.clock import INSTANT, day_bounds, iso_local, local_date
from rules.daily import day_shifts
from rules.findings import Finding, finding_order, make_finding
from rules.flags.context import FlagContext
from rules.intervals import overlap_minutes
from rules.masking import ON_DUTY_KINDS
from rules.policy import Policy
from rules.records import ShiftKind

SELF_APPROVED = "OVERTIME_SELF_APPROVED"
OVERLAPPING = "OVERLAPPING_CLAIM"
SELF_EDIT = "ROSTER_SELF_EDIT"
CLUSTER = "ROSTER_EDIT_CLUSTER"
INTEGRITY_CODES = (SELF_APPROVED, OVERLAPPING, SELF_EDIT, CLUSTER)
RULE_VERSIONS = {code: f"{code}/1" for code in INTEGRITY_CODES}

# Kinds a claim must not overlap: time already paid (duty, training) or not worked (leave, sick,
# rest). An `overtime` shift is the rostered form of a claim, so a claim over it is not double pay.
OVERLAP_KINDS = tuple(k.value for k in ShiftKind if k is not ShiftKind.OVERTIME)

VERSIONS: dict[str, pl.DataType] = {
    "shift_id": pl.Utf8(),
    "version": pl.Int64(),
    "officer_id": pl.Utf8(),
    "start_at": INSTANT,
    "end_at": INSTANT,
    "kind": pl.Utf8(),
    "station_id": pl.Utf8(),
    "declared_location": pl.Utf8(),
    "edited_at": INSTANT,
    "edited_by": pl.Utf8(),
    "prev_start_at": INSTANT,
    "prev_end_at": INSTANT,
    "prev_kind": pl.Utf8(),
}
CLAIMS: dict[str, pl.DataType] = {
    "claim_id": pl.Utf8(),
    "officer_id": pl.Utf8(),
    "start_at": INSTANT,
    "end_at": INSTANT,
    "station_id": pl.Utf8(),
    "submitted_at": INSTANT,
    "approved_by": pl.Utf8(),
    "approved_at": INSTANT,
}
OTHERS: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "item_id": pl.Utf8(),
    "item_type": pl.Utf8(),  # "shift" or "claim"
    "kind": pl.Utf8(),  # shift kind, "claim" for a claim
    "start_at": INSTANT,
    "end_at": INSTANT,
}
ACCOUNTS: dict[str, pl.DataType] = {"officer_id": pl.Utf8(), "account_id": pl.Utf8()}
# Columns the daily run adds to rules.schemas.DAILY (stored in the day's result details).
LATE_SUPPORT: dict[str, pl.DataType] = {
    "late_added_minutes": pl.Float64(),
    "late_presence_minutes": pl.Float64(),
}
SUPPORT: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "date": pl.Date(),
    "late_added_minutes": pl.Float64(),
    "late_presence_minutes": pl.Float64(),
}


@dataclass(frozen=True)
class PeriodInputs:
    """What the period rules read; none of it is a location event.

    ``versions``: every stored version (VERSIONS, with the version before it as ``prev_*``) of
    on-duty shifts starting in the period that may have been changed after the fact (edited at or
    after their start); ``claims``: claims starting in the period (CLAIMS); ``others``: the
    shifts (any kind) and claims of the claimants overlapping those claims (OTHERS);
    ``accounts``: officer_id to rostering account; ``support``: per officer and day, the on-duty
    minutes added after the fact and the station presence found in them by the daily run.
    """

    start: date
    end: date
    tz: str
    versions: pl.DataFrame
    claims: pl.DataFrame
    others: pl.DataFrame
    accounts: pl.DataFrame
    support: pl.DataFrame


# --- the daily run's contribution: presence inside time added after the fact --------------------


def late_support(ctx: FlagContext) -> pl.DataFrame:
    """``ctx.daily`` with ``late_added_minutes`` and ``late_presence_minutes`` per officer: the
    paid time every version of the day's on-duty shifts added after the fact (late_additions,
    the same reading the period rules make) and the station presence inside it (null when nothing
    was added late). Presence is on-duty evidence only: it comes from the day's masked segments."""
    day = day_shifts(ctx.shifts, ctx.day, ctx.tz).filter(pl.col("kind").is_in(ON_DUTY_KINDS))
    added = late_additions(_day_versions(ctx.shift_history, day))
    parts = pl.concat(
        [
            added.select(
                "officer_id", "shift_id", "version", q_start="start_at", q_end="before_end"
            ),
            added.select(
                "officer_id", "shift_id", "version", q_start="after_start", q_end="after_end"
            ),
        ]
    ).filter(pl.col("q_end") > pl.col("q_start"))
    if parts.is_empty():
        return ctx.daily.with_columns(
            late_added_minutes=pl.lit(None, pl.Float64),
            late_presence_minutes=pl.lit(None, pl.Float64),
        )
    queries = parts.with_row_index("_i").select(
        "officer_id",
        q_id=pl.format("{}#{}#{}", "shift_id", "version", "_i"),
        q_start="q_start",
        q_end="q_end",
    )
    per_officer = (
        overlap_minutes(queries, ctx.segments)
        .group_by("officer_id")
        .agg(
            late_added_minutes=pl.col("q_minutes").sum(),
            late_presence_minutes=pl.col("presence_minutes").sum(),
        )
    )
    return ctx.daily.join(per_officer, on="officer_id", how="left")


def _day_versions(history: pl.DataFrame, day: pl.DataFrame) -> pl.DataFrame:
    """Every stored version of the shifts of ``day`` as VERSIONS rows (with the one before)."""
    h = history.join(day.select("shift_id", "officer_id"), on="shift_id").with_columns(
        edited_at=pl.coalesce("updated_at", "created_at", "recorded_at"),
        edited_by=pl.lit(None, pl.Utf8),
    )
    prev = h.select(
        "shift_id",
        version=pl.col("version") + 1,
        prev_start_at="start_at",
        prev_end_at="end_at",
        prev_kind="kind",
    )
    return h.join(prev, on=["shift_id", "version"], how="left").select(list(VERSIONS))


# --- claims ----------------------------------------------------------------------------------


def _hours(minutes: float) -> float:
    return round(minutes / 60.0, 2)


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60.0


def _claim_facts(row: dict[str, Any], tz: str) -> dict[str, Any]:
    return {
        "claim_id": row["claim_id"],
        "start": iso_local(row["start_at"], tz),
        "end": iso_local(row["end_at"], tz),
        "station_id": row["station_id"],
        "claimed_hours": _hours(_minutes(row["start_at"], row["end_at"])),
    }


def self_approved(inputs: PeriodInputs, policy: Policy) -> list[Finding]:
    """OVERTIME_SELF_APPROVED: a claim whose approver is the claimant's own rostering account."""
    claims = inputs.claims.join(inputs.accounts, on="officer_id", how="inner").filter(
        pl.col("approved_by").is_not_null() & (pl.col("approved_by") == pl.col("account_id"))
    )
    out: list[Finding] = []
    for row in claims.sort("claim_id").iter_rows(named=True):
        day = _local_day(row["start_at"], inputs.tz)
        facts = _claim_facts(row, inputs.tz)
        approved_at = row["approved_at"]
        summary = (
            f"Overtime claim {row['claim_id']} of officer {row['officer_id']} "
            f"({facts['start']} to {facts['end']}, {facts['claimed_hours']} h) was approved by "
            f"the officer's own account {row['account_id']}."
        )
        evidence = {
            "policy_version": policy.version,
            "timezone": inputs.tz,
            **facts,
            "approved_by": row["approved_by"],
            "approved_at": iso_local(approved_at, inputs.tz) if approved_at else None,
            "officer_account_id": row["account_id"],
            "paid_hours": facts["claimed_hours"],
        }
        out.append(
            make_finding(
                SELF_APPROVED,
                RULE_VERSIONS[SELF_APPROVED],
                row["officer_id"],
                day,
                summary,
                evidence,
                (row["claim_id"],),
            )
        )
    return out


def _local_day(instant: datetime, tz: str) -> date:
    day: date = pl.select(local_date(pl.lit(instant, INSTANT), tz)).item()
    return day


def overlapping(inputs: PeriodInputs, policy: Policy) -> list[Finding]:
    """OVERLAPPING_CLAIM: a claim overlapping, by at least ``overlap_min_minutes`` in all, the
    officer's leave, sickness or rest, a paid duty or training shift, or another of their claims."""
    pairs = (
        inputs.claims.select("claim_id", "officer_id", c_start="start_at", c_end="end_at")
        .join(inputs.others, on="officer_id")
        .filter(
            (pl.col("item_id") != pl.col("claim_id")) | (pl.col("item_type") != "claim"),
            (pl.col("item_type") == "claim") | pl.col("kind").is_in(OVERLAP_KINDS),
        )
        .with_columns(
            o_start=pl.max_horizontal("c_start", "start_at"),
            o_end=pl.min_horizontal("c_end", "end_at"),
        )
        .filter(pl.col("o_end") > pl.col("o_start"))
        .with_columns(minutes=(pl.col("o_end") - pl.col("o_start")).dt.total_microseconds() / 60e6)
    )
    if pairs.is_empty():
        return []
    union = _union_minutes(pairs)
    flagged = union.filter(pl.col("overlap_minutes") >= policy.overlap_min_minutes)
    claims = inputs.claims.join(flagged, on="claim_id").sort("claim_id")
    out: list[Finding] = []
    for row in claims.iter_rows(named=True):
        items = pairs.filter(pl.col("claim_id") == row["claim_id"]).sort("start_at", "item_id")
        overlaps = [
            {
                "with": r["item_type"],
                "id": r["item_id"],
                "kind": r["kind"],
                "start": iso_local(r["start_at"], inputs.tz),
                "end": iso_local(r["end_at"], inputs.tz),
                "overlap_minutes": r["minutes"],
            }
            for r in items.iter_rows(named=True)
        ]
        facts = _claim_facts(row, inputs.tz)
        minutes = float(row["overlap_minutes"])
        what = ", ".join(sorted({o["kind"] if o["with"] == "shift" else "claim" for o in overlaps}))
        summary = (
            f"Overtime claim {row['claim_id']} of officer {row['officer_id']} "
            f"({facts['start']} to {facts['end']}) overlaps {len(overlaps)} other record(s) of "
            f"theirs ({what}) for {minutes:.0f} minutes."
        )
        evidence = {
            "policy_version": policy.version,
            "timezone": inputs.tz,
            **facts,
            "overlaps": overlaps,
            "overlap_minutes": minutes,
            "paid_hours": _hours(minutes),
            "thresholds": {"overlap_min_minutes": policy.overlap_min_minutes},
        }
        out.append(
            make_finding(
                OVERLAPPING,
                RULE_VERSIONS[OVERLAPPING],
                row["officer_id"],
                _local_day(row["start_at"], inputs.tz),
                summary,
                evidence,
                (row["claim_id"],),
            )
        )
    return out


def _union_minutes(pairs: pl.DataFrame) -> pl.DataFrame:
    """Per claim, the minutes of the union of its overlaps (two overlapping records count once)."""
    ordered = pairs.sort("claim_id", "o_start", "o_end").with_columns(
        reach=pl.col("o_end").cum_max().over("claim_id")
    )
    ordered = ordered.with_columns(
        new=(pl.col("o_start") > pl.col("reach").shift(1).over("claim_id")).fill_null(True)
    ).with_columns(run=pl.col("new").cum_sum().over("claim_id"))
    return (
        ordered.group_by("claim_id", "run")
        .agg(s=pl.col("o_start").min(), e=pl.col("o_end").max())
        .group_by("claim_id")
        .agg(overlap_minutes=((pl.col("e") - pl.col("s")).dt.total_microseconds() / 60e6).sum())
    )


# --- roster edits ----------------------------------------------------------------------------


def late_additions(versions: pl.DataFrame) -> pl.DataFrame:
    """Paid (on-duty) time each version added after the fact.

    A version adds the part of its on-duty interval outside the version before it (all of it when
    it is the first version or the one before was leave, sickness or rest); only the part that had
    already begun when the edit was made (``edited_at``) is after the fact. Returns the versions
    with ``added_minutes`` > 0, ``added_start`` and ``added_end`` (the span of what was added
    late) and its two parts, [start_at, before_end) and [after_start, after_end) (either may be
    empty).
    """
    v = versions.filter(pl.col("kind").is_in(ON_DUTY_KINDS))
    prev_paid = pl.col("prev_kind").is_in(ON_DUTY_KINDS).fill_null(False)
    ps = pl.when(prev_paid).then(pl.col("prev_start_at"))
    pe = pl.when(prev_paid).then(pl.col("prev_end_at"))
    cut = pl.min_horizontal("end_at", "edited_at")
    # before the previous interval (or all of it when there is none) ...
    a_end = pl.min_horizontal(pl.coalesce(ps, pl.col("end_at")), cut)
    # ... and after it
    b_start = pl.coalesce(pe, pl.col("end_at"))
    b_start = pl.max_horizontal(b_start, pl.col("start_at"))

    def span_us(s: pl.Expr, e: pl.Expr) -> pl.Expr:
        return pl.when(e > s).then((e - s).dt.total_microseconds()).otherwise(0)

    out = v.with_columns(
        _a=span_us(pl.col("start_at"), a_end),
        _b=span_us(b_start, cut),
        _a_end=a_end,
        _b_start=b_start,
    ).with_columns(added_minutes=(pl.col("_a") + pl.col("_b")) / 60e6)
    out = out.filter(pl.col("added_minutes") > 0).with_columns(
        added_start=pl.when(pl.col("_a") > 0).then(pl.col("start_at")).otherwise("_b_start"),
        added_end=pl.when(pl.col("_b") > 0).then(cut).otherwise("_a_end"),
        before_end=pl.max_horizontal("start_at", "_a_end"),
        after_start="_b_start",
        after_end=pl.max_horizontal("_b_start", cut),
    )
    return out.drop("_a", "_b", "_a_end", "_b_start")


def _edit_row(r: dict[str, Any], tz: str) -> dict[str, Any]:
    return {
        "shift_id": r["shift_id"],
        "version": r["version"],
        "officer_id": r["officer_id"],
        "kind": r["kind"],
        "edited_by": r["edited_by"],
        "edited_at": iso_local(r["edited_at"], tz),
        "added_from": iso_local(r["added_start"], tz),
        "added_to": iso_local(r["added_end"], tz),
        "added_minutes": r["added_minutes"],
    }


def self_edits(inputs: PeriodInputs, additions: pl.DataFrame, policy: Policy) -> list[Finding]:
    """ROSTER_SELF_EDIT: more than ``self_edit_max_per_period`` unsupported after-the-fact
    additions of paid time by an officer's own account to their own shifts in the period.

    An addition is supported when the daily run found station presence covering at least
    ``support_share`` of the time added late on that day; supported ones are listed, not counted.
    """
    own = (
        additions.join(inputs.accounts, on="officer_id", how="inner")
        .filter(pl.col("edited_by") == pl.col("account_id"))
        .with_columns(date=local_date(pl.col("start_at"), inputs.tz))
        .join(inputs.support, on=["officer_id", "date"], how="left")
        .with_columns(
            supported=(
                pl.col("late_presence_minutes")
                >= policy.support_share * pl.col("late_added_minutes")
            ).fill_null(False)
            & (pl.col("late_added_minutes") > 0).fill_null(False)
        )
    )
    out: list[Finding] = []
    for (officer_id,), group in sorted(own.group_by("officer_id"), key=lambda g: str(g[0][0])):
        counted = group.filter(~pl.col("supported")).sort("start_at", "shift_id", "version")
        if counted.height <= policy.self_edit_max_per_period:
            continue
        supported = group.filter(pl.col("supported")).sort("start_at", "shift_id", "version")
        minutes = float(counted["added_minutes"].sum())
        account = group["account_id"][0]
        summary = (
            f"Officer {officer_id}'s own account {account} added paid time after the fact to "
            f"their own shifts {counted.height} times between {inputs.start.isoformat()} and "
            f"{inputs.end.isoformat()} ({_hours(minutes)} h) without presence confirming it, "
            f"above the {policy.self_edit_max_per_period} allowed; {supported.height} supported "
            "edit(s) were not counted."
        )
        evidence = {
            "policy_version": policy.version,
            "timezone": inputs.tz,
            "period_start": inputs.start,
            "period_end": inputs.end,
            "account_id": account,
            "counted_edits": [_edit_row(r, inputs.tz) for r in counted.iter_rows(named=True)],
            "supported_edits": [
                {
                    **_edit_row(r, inputs.tz),
                    "presence_minutes": r["late_presence_minutes"],
                }
                for r in supported.iter_rows(named=True)
            ],
            "paid_hours": _hours(minutes),
            "thresholds": {
                "self_edit_max_per_period": policy.self_edit_max_per_period,
                "support_share": policy.support_share,
            },
        }
        out.append(
            make_finding(
                SELF_EDIT,
                RULE_VERSIONS[SELF_EDIT],
                officer_id,
                inputs.end,
                summary,
                evidence,
                (inputs.start,),
            )
        )
    return out


def edit_clusters(inputs: PeriodInputs, additions: pl.DataFrame, policy: Policy) -> list[Finding]:
    """ROSTER_EDIT_CLUSTER: officers whose accounts add paid time after the fact to each other's
    shifts, reciprocally or in a cycle (a strongly connected group of the period's edit graph,
    officer editor to officer edited), with at least ``edit_cluster_min_edits`` such edits between
    them. Every member gets a finding naming the members, the edits and the hours. Edits by
    accounts that are not an officer's (unit administrators) are not edges."""
    editors = inputs.accounts.rename({"officer_id": "editor_officer", "account_id": "edited_by"})
    edges = additions.join(editors, on="edited_by", how="inner").filter(
        pl.col("editor_officer") != pl.col("officer_id")
    )
    if edges.is_empty():
        return []
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_edges_from(edges.select("editor_officer", "officer_id").unique().iter_rows())
    out: list[Finding] = []
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        members = sorted(component)
        inside = edges.filter(
            pl.col("editor_officer").is_in(members) & pl.col("officer_id").is_in(members)
        ).sort("start_at", "shift_id", "version")
        if inside.height < policy.edit_cluster_min_edits:
            continue
        out.extend(_cluster_findings(inputs, policy, members, inside))
    return out


def _cluster_findings(
    inputs: PeriodInputs, policy: Policy, members: list[str], inside: pl.DataFrame
) -> list[Finding]:
    total = float(inside["added_minutes"].sum())
    edits = [
        {**_edit_row(r, inputs.tz), "editor_officer_id": r["editor_officer"]}
        for r in inside.iter_rows(named=True)
    ]
    out = []
    for officer_id in members:
        own = inside.filter(pl.col("officer_id") == officer_id)
        made = inside.filter(pl.col("editor_officer") == officer_id)
        received = float(own["added_minutes"].sum())
        summary = (
            f"Officer {officer_id} is one of {len(members)} officers ({', '.join(members)}) whose "
            f"accounts added paid time after the fact to each other's shifts {inside.height} times "
            f"between {inputs.start.isoformat()} and {inputs.end.isoformat()} "
            f"({_hours(total)} h in all; {_hours(received)} h added to this officer's shifts, "
            f"{made.height} edit(s) made by their account)."
        )
        evidence = {
            "policy_version": policy.version,
            "timezone": inputs.tz,
            "period_start": inputs.start,
            "period_end": inputs.end,
            "members": members,
            "edits": edits,
            "edits_by_officer": made.height,
            "edits_to_officer": own.height,
            "paid_hours": _hours(received),
            "cluster_paid_hours": _hours(total),
            "thresholds": {"edit_cluster_min_edits": policy.edit_cluster_min_edits},
        }
        out.append(
            make_finding(
                CLUSTER,
                RULE_VERSIONS[CLUSTER],
                officer_id,
                inputs.end,
                summary,
                evidence,
                (inputs.start, tuple(members)),
            )
        )
    return out


def evaluate_period(inputs: PeriodInputs, policy: Policy) -> list[Finding]:
    """Every roster-integrity finding of the period, in a stable order."""
    additions = late_additions(inputs.versions)
    findings = [
        *self_approved(inputs, policy),
        *overlapping(inputs, policy),
        *self_edits(inputs, additions, policy),
        *edit_clusters(inputs, additions, policy),
    ]
    findings.sort(key=finding_order)
    return findings


def inputs_from_frames(
    start: date,
    end: date,
    tz: str,
    *,
    history: pl.DataFrame,
    shifts: pl.DataFrame,
    claims: pl.DataFrame,
    accounts: pl.DataFrame,
    daily: pl.DataFrame,
) -> PeriodInputs:
    """PeriodInputs from frames in memory, as store.integrity reads them from the database.

    ``history``: every shift version (rules.schemas.SHIFT_HISTORY columns plus ``officer_id``
    and ``edited_by``); ``shifts``: current shifts (SHIFTS); ``claims``: CLAIMS columns;
    ``accounts``: officer_id, account_id (null: unknown); ``daily``: daily results with
    ``late_added_minutes`` and ``late_presence_minutes``.
    """
    lo, hi = day_bounds(start, tz)[0], day_bounds(end, tz)[1]
    h = history.with_columns(edited_at=pl.coalesce("updated_at", "created_at", "recorded_at"))
    prev = h.select(
        "shift_id",
        version=pl.col("version") + 1,
        prev_start_at="start_at",
        prev_end_at="end_at",
        prev_kind="kind",
    )
    versions = (
        h.join(prev, on=["shift_id", "version"], how="left")
        .filter(
            (pl.col("start_at") >= lo)
            & (pl.col("start_at") < hi)
            & pl.col("kind").is_in(ON_DUTY_KINDS)
            & (pl.col("edited_at") > pl.col("start_at"))
        )
        .select(list(VERSIONS))
        .cast(VERSIONS)  # type: ignore[arg-type]
    )
    in_period = claims.filter((pl.col("start_at") >= lo) & (pl.col("start_at") < hi))
    claimants = in_period["officer_id"].unique().implode()
    others = pl.concat(
        [
            shifts.select(
                "officer_id",
                item_id="shift_id",
                item_type=pl.lit("shift"),
                kind="kind",
                start_at="start_at",
                end_at="end_at",
            ),
            claims.select(
                "officer_id",
                item_id="claim_id",
                item_type=pl.lit("claim"),
                kind=pl.lit("claim"),
                start_at="start_at",
                end_at="end_at",
            ),
        ]
    ).filter(pl.col("officer_id").is_in(claimants))
    support = daily.filter(pl.col("late_added_minutes").is_not_null()).select(list(SUPPORT))
    return PeriodInputs(
        start=start,
        end=end,
        tz=tz,
        versions=versions,
        claims=in_period.select(list(CLAIMS)).cast(CLAIMS),  # type: ignore[arg-type]
        others=others.cast(OTHERS),  # type: ignore[arg-type]
        accounts=accounts.filter(pl.col("account_id").is_not_null())
        .select(list(ACCOUNTS))
        .cast(ACCOUNTS),  # type: ignore[arg-type]
        support=support.cast(SUPPORT),  # type: ignore[arg-type]
    )
