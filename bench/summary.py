"""A Markdown table of recorded benchmark runs: figures, ratios to the ceilings, machine state.

Usage: .venv/bin/python -m bench.summary [FILE.json ...]   (default: every bench/results/*.json)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _import(d: dict[str, Any]) -> list[str]:
    out = []
    for backend in ("postgis", "sqlite"):
        f = d.get(backend)
        if f:
            out.append(
                f"{backend}: {f['rows_per_s']:,} rows/s, {f['share_of_ceiling']:.2f} of the bare "
                f"ceiling ({f['ceiling_rows_per_s']:,}; pairs {f['share_of_ceiling_pairs']}), "
                f"{f.get('share_of_keyed_ceiling', float('nan')):.2f} of the keyed one"
            )
    return out


def _nightly(d: dict[str, Any]) -> list[str]:
    out = []
    for backend, runs in d.get("runs", {}).items():
        for r in runs:
            if "job_s" not in r:
                continue
            lc, cc = r["load_ceiling"], r["compute_ceiling"]
            out.append(
                f"{backend} {r['officers']:,} officers ({r['fixes']:,} fixes): job "
                f"{r['job_s']} s (runs {r['job_s_runs']}), load {r['stages_s']['load']} s = "
                f"{lc['load_over_ceiling']}x the plain read (pairs {lc['ratio_pairs']}), "
                f"compute {cc['compute_over_in_memory']}x in memory, peak {r['peak_rss_gb']} GB"
            )
    return out


def _ingest(d: dict[str, Any]) -> list[str]:
    h = d.get("http_vs_direct", {})
    return [
        f"{d['fixes_per_s_accepted']:,.0f} fixes/s over HTTP, p99 {d['p99_batch_s']} s; HTTP "
        f"{h.get('http_over_direct')}x the direct path (pairs {h.get('ratio_pairs')}); "
        f"stored = accepted {d.get('stored_equals_accepted')}; compliance median "
        f"{d.get('compliance_month_s_median')} s"
    ]


def _geofence(d: dict[str, Any]) -> list[str]:
    return [
        f"{d['raw_fixes_per_cpu_s'] / 1e6:.1f} M fixes per CPU-s from lat/lon, "
        f"{d['cell_fixes_per_cpu_s'] / 1e6:.1f} M from cells; {d['ratio_raw_vs_geopandas']}x "
        f"geopandas, {d.get('ratio_raw_vs_postgis')}x PostGIS"
    ]


def _accuracy(d: dict[str, Any]) -> list[str]:
    return [
        f"{k}: " + ", ".join(f"{m}={v}" for m, v in list(d[k].items())[:5])
        for k in d
        if k.startswith("noise_") and isinstance(d[k], dict)
    ]


def _quick(d: dict[str, Any]) -> list[str]:
    walls = ", ".join(f"{b['bench']} {b['wall_s']:.0f} s" for b in d.get("benches", []))
    return [f"total {d['total_s']:.0f} s (budget {d['budget_s']:.0f} s idle): {walls}"]


LINES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "bench-quick": _quick,
    "import_pings": _import,
    "nightly": _nightly,
    "ingest": _ingest,
    "geofence": _geofence,
    "accuracy": _accuracy,
}


def row(d: dict[str, Any]) -> str:
    m = d.get("machine", {})
    pg = m.get("postgres") or {}
    disk = m.get("disk") or {}
    state = (
        f"load {m.get('loadavg_start', ['?'])[0]} -> {m.get('loadavg_end', ['?'])[0]}; "
        f"steal {(m.get('cpu_split') or {}).get('steal')}; disk {disk.get('write_mb_s')} MB/s, "
        f"fdatasync {disk.get('fdatasync_ms_p50')} ms; commit {pg.get('commit_ms_p50')} ms; "
        f"checkpoints {m.get('checkpoints_during_run')}"
    )
    figures = "<br>".join(LINES.get(d["bench"], lambda _: [])(d))
    quick = " (quick)" if d.get("quick") else ""
    return f"| {d['started_at']} | {d['bench']}{quick} | {figures} | {state} |"


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted(RESULTS.glob("*.json"))
    print("| started (UTC) | benchmark | figures and ratios | machine during the run |")
    print("|---|---|---|---|")
    for path in files:
        print(row(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
