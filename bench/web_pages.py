"""Web app speed on the demo database: each screen's server time (p50/p95 of N requests through
the ASGI app, the time from request to the last byte of the page) against 200 ms, and an
officer's month on the map drawn in headless Chromium (navigation start to the load event, the
SVG and the event list in the page) against 1 s.

    python bench/web_pages.py [--database URL] [--repeat N]

Run `make demo` first (./rollcall-demo.db). Ends with one JSON line (with the machine's load),
also written to $BENCH_RESULTS when set.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from api.app import create_app  # noqa: E402
from api.auth import issue_token  # noqa: E402
from bench.machine import Run  # noqa: E402
from bench.web_screens import demo_screens  # noqa: E402
from rollcall.settings import Settings  # noqa: E402
from rules.policy import load_policy  # noqa: E402
from store.db import make_engine, session_factory  # noqa: E402
from tests.web.browser import chromium_problem, launch, live_server, sign_in  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "bench-only-secret-0123456789abcdef0123"
PAGE_P95_MS = 200.0
MAP_MS = 1000.0


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def server_times(settings: Settings, screens: list, repeat: int) -> dict[str, dict[str, float]]:
    app = create_app(settings, dev_login=True)
    out: dict[str, dict[str, float]] = {}
    with TestClient(app) as client:
        for screen in screens:
            headers = {}
            if screen.role:
                token = issue_token(
                    SECRET,
                    role=screen.role,
                    sub=f"bench.{screen.role}",
                    officer_id=screen.officer_id or None,
                )
                headers = {"Authorization": f"Bearer {token}"}
            times = []
            for i in range(repeat + 3):
                t0 = time.perf_counter()
                r = client.get(screen.path, headers=headers)
                elapsed = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    raise SystemExit(f"{screen.path}: HTTP {r.status_code}")
                if i >= 3:  # the first requests warm the caches
                    times.append(elapsed)
            out[screen.name] = {
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(_p(times, 0.95), 1),
                "bytes": len(r.content),
            }
            print(
                f"{screen.name:24s} p50 {out[screen.name]['p50_ms']:7.1f} ms  "
                f"p95 {out[screen.name]['p95_ms']:7.1f} ms  {len(r.content):>8,} bytes"
            )
    return out


def map_times(settings: Settings, screen, repeat: int, drawing: list[float]) -> list[float]:
    """Navigation start to load event of the officer-month timeline, in Chromium (and, in
    ``drawing``, the browser's own part: first response byte to load event)."""
    times: list[float] = []
    with live_server(create_app(settings, dev_login=True)) as base, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, base, screen.role, officer_id=screen.officer_id)
        for _ in range(repeat):
            page.goto(base + screen.path)
            page.wait_for_selector("#timeline-map path.away, #timeline-map path.present")
            load, browser_part = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.loadEventEnd - n.startTime, n.loadEventEnd - n.responseStart]; }"
            )
            shapes = page.locator("#timeline-map path").count()
            times.append(round(float(load), 1))
            drawing.append(round(float(browser_part), 1))
        browser.close()
    print(f"officer-month map: {shapes} shapes, load {times} ms, of which in the browser {drawing}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite:///rollcall-demo.db")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    problem = chromium_problem()
    if problem:
        raise SystemExit(problem)
    run = Run("web_pages", postgres=False)
    settings = Settings(database_url=args.database, jwt_secret=SECRET)
    engine = make_engine(args.database)
    with session_factory(engine)() as session:
        screens = demo_screens(session, load_policy())
    engine.dispose()
    pages = server_times(settings, screens, args.repeat)
    month = next(s for s in screens if s.name == "officer-timeline-month")
    drawing: list[float] = []
    maps = map_times(settings, month, max(5, args.repeat // 8), drawing)
    worst = max(v["p95_ms"] for v in pages.values())
    summary = {
        "database": args.database.split("://")[0],
        "pages": pages,
        "worst_page_p95_ms": worst,
        "page_p95_target_ms": PAGE_P95_MS,
        "map_load_ms": {"median": statistics.median(maps), "max": max(maps)},
        "map_browser_ms": {"median": statistics.median(drawing), "max": max(drawing)},
        "map_target_ms": MAP_MS,
        "met": worst <= PAGE_P95_MS and max(maps) < MAP_MS,
    }
    run.finish(summary)


if __name__ == "__main__":
    main()
