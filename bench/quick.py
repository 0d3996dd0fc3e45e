"""`make bench-quick`: every benchmark at its reduced size, one after another, then a summary.

Usage: .venv/bin/python -m bench.quick [NAME ...]   (default: every benchmark in QUICK)

Each benchmark runs as ``BENCH_QUICK=1 python -m bench.<name>`` with the arguments QUICK gives it
(sizes cut so the whole stays well under five minutes on an idle two-core machine while every
ratio is still measured, alternately, against its ceiling); its output is shown as it comes.
At the end: each benchmark's wall time, its ratios to the ceilings, the targets it met and missed,
the total, and the load average before and after. With ``BENCH_RESULTS`` set, the summary is
also written there as ``<UTC start>-bench-quick.json`` (each benchmark writes its own line too).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import loadavg  # noqa: E402
from bench.summary import LINES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BUDGET_S = 300.0
# name -> arguments at quick size, on top of each benchmark's own BENCH_QUICK defaults; cut where
# the first end-to-end run (load average 10-14, bench/README.md) spent its time on what no ratio
# needs: the import's small-file and ORM comparisons, the geopandas classification beside the
# nightly job, fixed-length HTTP phases, a year of roster for 4,600 officers, the station index
# of 600 fences built twice and 40 timeline requests per backend for the reporting.
QUICK: dict[str, list[str]] = {
    "import_pings": ["--small-rows", "20000", "--orm-rows", "2000"],
    "geofence": ["--fixes", "1000000", "--compare", "100000"],
    "accuracy": [],
    "nightly": ["--no-sjoin"],
    "ingest": [
        "--seconds",
        "5",
        "--dup-seconds",
        "3",
        "--ratio-seconds",
        "4",
        "--officers",
        "2200",
    ],
    "roster_integrity": ["--officers", "1000"],
    "reporting": ["--stations", "200", "--requests", "10"],
}


def _geofence_met(d: dict[str, Any]) -> dict[str, bool]:
    pg = d.get("ratio_raw_vs_postgis")
    return {
        ">=10x_geopandas": d["ratio_raw_vs_geopandas"] >= 10,
        ">=100x_postgis": pg is not None and pg >= 100,
        "same_as_geopandas": bool(d["same_as_geopandas"]),
        "same_as_postgis": bool(d.get("same_as_postgis")),
    }


# accuracy figures that must stay at or below their target; every other one at or above
_CEILING_WORDS = ("mae", "honest_flagged", "leaks")


def _accuracy_met(d: dict[str, Any]) -> dict[str, bool]:
    out = {}
    for key, value in d.items():
        if not (key.startswith("noise_") and isinstance(value, dict)):
            continue
        for name, target in d.get("targets", {}).items():
            got = value.get(name)
            if isinstance(got, int | float) and not isinstance(got, bool):
                below = any(w in name for w in _CEILING_WORDS)
                out[f"{key}:{name}"] = got <= target if below else got >= target
    return out


def _nightly_met(d: dict[str, Any]) -> dict[str, bool]:
    out = {}
    for backend, met in d.get("meets_target", {}).items():
        for name in ("time_ok", "memory_ok", "load_ratio_ok"):
            out[f"{backend}:{name}"] = bool(met[name])
    return out


def _reporting_met(d: dict[str, Any]) -> dict[str, bool]:
    t = d["targets"]
    out = {}
    for backend in ("sqlite", "postgres"):
        r = d.get(backend)
        if r:
            out[f"{backend}:rollup"] = r["rollup_s_max"] <= t["rollup_s"]
            out[f"{backend}:xlsx"] = r["xlsx_s_max"] <= t["xlsx_s"]
            out[f"{backend}:timeline_p95"] = r["timeline_p95_ms"] <= t["timeline_p95_ms"]
    return out


def _reporting_line(d: dict[str, Any]) -> list[str]:
    return [
        f"{b}: roll-up {d[b]['rollup_s_max']} s, xlsx {d[b]['xlsx_s_max']} s, timeline p95 "
        f"{d[b]['timeline_p95_ms']} ms"
        for b in ("sqlite", "postgres")
        if d.get(b)
    ]


def _integrity_line(d: dict[str, Any]) -> list[str]:
    return [
        f"year {d['year']['seconds']} s, peak {d['year']['peak_rss_mb']} MB; twelve months "
        f"{d['months']['seconds']} s"
    ]


MET: dict[str, Callable[[dict[str, Any]], dict[str, bool]]] = {
    "geofence": _geofence_met,
    "accuracy": _accuracy_met,
    "nightly": _nightly_met,
    "reporting": _reporting_met,
}
FIGURES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    **LINES,
    "reporting": _reporting_line,
    "roster_integrity": _integrity_line,
}


def targets_met(name: str, d: dict[str, Any]) -> dict[str, bool]:
    """The targets a benchmark's JSON line says it met (its own ``targets_met``, or read from
    its figures and targets)."""
    if name in MET:
        return MET[name](d)
    return {k: bool(v) for k, v in d.get("targets_met", {}).items()}


def run_one(name: str, args: list[str]) -> tuple[float, dict[str, Any] | None, int]:
    """Run one benchmark at quick size, its output passed through; wall seconds, its JSON line
    (None if it printed none) and its exit status."""
    cmd = [sys.executable, "-m", f"bench.{name}", *args]
    print(f"== bench/{name}.py (quick) {' '.join(args)}".rstrip(), flush=True)
    env = {**os.environ, "BENCH_QUICK": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    last: dict[str, Any] | None = None
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if line.startswith("{"):
            try:
                last = json.loads(line)
            except ValueError:
                pass
    status = proc.wait()
    return time.perf_counter() - t0, last, status


def summary_rows(results: list[dict[str, Any]]) -> list[str]:
    """The summary's lines: one per benchmark, then the total."""
    lines = [
        "",
        "| benchmark | wall s | figures and ratios | targets met |",
        "|---|---:|---|---|",
    ]
    for r in results:
        met = r["targets_met"]
        missed = [k for k, ok in met.items() if not ok]
        verdict = f"{len(met) - len(missed)} of {len(met)}"
        if missed:
            verdict += "; missed " + ", ".join(missed)
        if r["status"] != 0:
            verdict = f"FAILED (exit {r['status']})"
        figures = "<br>".join(r["figures"]) or "-"
        lines.append(f"| {r['bench']} | {r['wall_s']:.0f} | {figures} | {verdict} |")
    return lines


def main(argv: list[str]) -> int:
    names = argv or list(QUICK)
    unknown = [n for n in names if n not in QUICK]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(QUICK)}")
        return 2
    started = datetime.now(UTC)
    load_start = loadavg()
    t0 = time.perf_counter()
    results = []
    for name in names:
        wall, line, status = run_one(name, QUICK[name])
        results.append(
            {
                "bench": name,
                "wall_s": round(wall, 1),
                "status": status if line is not None or status else 1,
                "figures": FIGURES.get(name, lambda _: [])(line) if line else [],
                "targets_met": targets_met(name, line) if line else {},
            }
        )
    total = time.perf_counter() - t0
    load_end = loadavg()
    for text in summary_rows(results):
        print(text)
    print(
        f"\ntotal {total:.0f} s (budget {BUDGET_S:.0f} s on an idle machine: "
        f"{'within' if total <= BUDGET_S else 'over'}); load average {load_start} -> {load_end}"
    )
    out = {
        "bench": "bench-quick",
        "started_at": started.isoformat(timespec="seconds"),
        "total_s": round(total, 1),
        "budget_s": BUDGET_S,
        "benches": results,
        "machine": {"loadavg_start": load_start, "loadavg_end": load_end},
    }
    target = os.environ.get("BENCH_RESULTS")
    if target:
        directory = Path(target)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = started.strftime("%Y-%m-%dT%H%M%SZ")
        (directory / f"{stamp}-bench-quick.json").write_text(json.dumps(out, indent=1) + "\n")
    return 0 if all(r["status"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
