"""Debian's Chromium driven by Playwright, and the service on a real port, for browser tests,
`make screenshots` and the page benchmark."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = os.environ.get("ROLLCALL_CHROMIUM", "/usr/bin/chromium")
# No sandbox (root in CI), and nothing that reaches for the network on its own: the machine's
# network is closed and browser downloads are impossible.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"


def chromium_problem() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        return (
            f"Chromium not found at {CHROMIUM} (apt-get install chromium: .ci/ensure-chromium.sh)"
        )
    return None


def launch(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sign_in(page: Page, base: str, role: str, sub: str = "web.user", officer_id: str = "") -> None:
    """Through the development sign-in page, as a user would."""
    page.goto(f"{base}/app/login")
    page.get_by_label(role, exact=True).check()
    page.get_by_label("Your name").fill(sub)
    if officer_id:
        page.get_by_label("Officer id (for the officer role)").fill(officer_id)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def axe_violations(page: Page, levels: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of ``levels`` on the page as it is, one line each."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await window.axe.run(document)")
    return [
        f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes: "
        f"{v['nodes'][0]['target'] if v['nodes'] else ''})"
        for v in result["violations"]
        if v["impact"] in levels
    ]
