"""`make screenshots`: a PNG of every screen of the web app, from the demo database, taken in
Debian's Chromium (headless) through the development sign-in.

    python bench/screenshots.py [--database URL] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from api.app import create_app  # noqa: E402
from bench.web_screens import demo_screens  # noqa: E402
from rollcall.settings import Settings  # noqa: E402
from rules.policy import load_policy  # noqa: E402
from store.db import make_engine, session_factory  # noqa: E402
from tests.web.browser import chromium_problem, launch, live_server, sign_in  # noqa: E402

SECRET = "screenshots-only-secret-0123456789abcdef"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", default="sqlite:///rollcall-demo.db")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    problem = chromium_problem()
    if problem:
        raise SystemExit(problem)
    engine = make_engine(args.database)
    with session_factory(engine)() as session:
        screens = demo_screens(session, load_policy())
    engine.dispose()
    args.out.mkdir(parents=True, exist_ok=True)
    settings = Settings(database_url=args.database, jwt_secret=SECRET)
    with live_server(create_app(settings, dev_login=True)) as base, sync_playwright() as pw:
        browser = launch(pw)
        for screen in screens:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
            page = context.new_page()
            if screen.role:
                sign_in(
                    page, base, screen.role, sub=f"demo.{screen.role}", officer_id=screen.officer_id
                )
            response = page.goto(base + screen.path)
            status = response.status if response else 0
            path = args.out / f"{screen.name}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"{path} ({screen.role or 'signed out'}, HTTP {status})")
            context.close()
            if status != 200:
                raise SystemExit(f"{screen.path} answered {status}")
        browser.close()


if __name__ == "__main__":
    main()
