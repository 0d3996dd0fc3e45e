"""Roster integrity accuracy: the synthetic force's planted roster abuse against the new codes."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import polars as pl

from fixtures.synth import generate_force
from rules.integrity import INTEGRITY_CODES, evaluate_period, inputs_from_frames
from rules.policy import Policy

TARGETS = {"precision": 0.95, "recall": 0.90, "honest_roles_flagged": 0}


def integrity_accuracy(
    seed: int, officers: int, start: date, days: int, policy: Policy, noise: float = 1.0
) -> dict[str, Any]:
    """Generate a force with roster integrity, run the daily pipeline (for the presence that
    supports late edits) and the period rules over its whole period, and score each new code
    per officer and day against fixtures' truth; also the honest administrators and self-editors
    given any of the codes (target: none)."""
    from bench.accuracy import _shift_frames, run_pipeline

    t0 = time.perf_counter()
    force = generate_force(seed, officers, start, days, noise=noise, roster_integrity=True)
    assert force.truth_integrity is not None
    assert force.truth_integrity_roles is not None
    result = run_pipeline(force, policy)
    t1 = time.perf_counter()
    shifts, history = _shift_frames(force)
    first, last = force.period
    inputs = inputs_from_frames(
        first,
        last,
        force.tz,
        history=history,
        shifts=shifts,
        claims=force.overtime.rename({"start": "start_at", "end": "end_at"}),
        accounts=force.officers,
        daily=pl.concat([result.daily], how="diagonal_relaxed"),
    )
    findings = evaluate_period(inputs, policy)
    t2 = time.perf_counter()
    found = {(f.code, f.officer_id, f.date) for f in findings}
    truth = {
        (r["code"], r["officer_id"], r["date"]) for r in force.truth_integrity.iter_rows(named=True)
    }
    per_code: dict[str, dict[str, Any]] = {}
    for code in INTEGRITY_CODES:
        f = {x for x in found if x[0] == code}
        t = {x for x in truth if x[0] == code}
        tp = len(f & t)
        per_code[code] = {
            "planted": len(t),
            "raised": len(f),
            "precision": round(tp / len(f), 4) if f else None,
            "recall": round(tp / len(t), 4) if t else None,
            "false_positives": sorted(f"{o} {d}" for _, o, d in f - t),
            "misses": sorted(f"{o} {d}" for _, o, d in t - f),
        }
    roles = force.truth_integrity_roles
    flagged = {f.officer_id for f in findings}
    honest_flagged = sorted(o for o in roles["officer_id"].to_list() if o in flagged)
    supported = sum(
        len(f.evidence["supported_edits"]) for f in findings if f.code == "ROSTER_SELF_EDIT"
    )
    return {
        "per_code": per_code,
        "administrators": roles.filter(pl.col("role") == "administrator").height,
        "honest_self_editors": roles.filter(pl.col("role") == "self_editor").height,
        "honest_roles_flagged": honest_flagged,
        "supported_edits_listed": supported,
        "seconds": {"generate_and_days": round(t1 - t0, 1), "period_rules": round(t2 - t1, 2)},
        "targets": TARGETS,
    }


def integrity_report(figures: dict[str, Any]) -> str:
    """A plain table of the per-code figures."""
    lines = ["roster integrity (per officer and day; whole period as one period)"]
    lines.append(f"{'code':<26}{'planted':>8}{'raised':>8}{'precision':>11}{'recall':>8}")
    for code, c in figures["per_code"].items():
        p = "-" if c["precision"] is None else f"{c['precision']:.3f}"
        r = "-" if c["recall"] is None else f"{c['recall']:.3f}"
        lines.append(f"{code:<26}{c['planted']:>8}{c['raised']:>8}{p:>11}{r:>8}")
        for kind in ("false_positives", "misses"):
            if c[kind]:
                lines.append(f"    {kind}: {', '.join(c[kind])}")
    lines.append(
        f"honest administrators {figures['administrators']}, honest self-editors "
        f"{figures['honest_self_editors']}; flagged: {figures['honest_roles_flagged'] or 'none'}"
    )
    return "\n".join(lines)
