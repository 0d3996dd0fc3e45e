"""Each role's journey in Debian's Chromium from sign-in to its main task, forbidden pages,
axe-core on every screen (no serious or critical violation), the keyboard, and the CSP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from api import signing
from api.app import create_app
from api.auth import issue_token
from rollcall.settings import Settings
from store.db import transaction
from store.models import CaseClosure, Flag
from tests.api.helpers import SECRET, TZ, Api, TestClient, seed_reference, seed_results
from tests.clock import API_NOW, TestClock
from tests.web.browser import axe_violations, chromium_problem, launch, live_server, sign_in

pytestmark = pytest.mark.slow

CASE = "CASE-2026-0042"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium; missing, it fails the tests under CI=true and skips them otherwise."""
    problem = chromium_problem()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Api]]:
    """The service with --dev-login on a real port, on this test's seeded database."""
    key = tmp_path / "export-key.pem"
    signing.generate_key_file(key)
    settings = Settings(database_url=db_url, jwt_secret=SECRET, timezone=TZ, export_key_file=key)
    app = create_app(settings, dev_login=True, clock=TestClock(API_NOW))
    with TestClient(app) as client:
        api = Api(client=client, factory=app.state.rollcall.factory)
        seed_reference(api)
        seed_results(api)
    with live_server(create_app(settings, dev_login=True, clock=TestClock(API_NOW))) as base:
        yield base, api


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) whose CSP violations and script errors fail the test."""
    context = browser.new_context(
        locale="en-GB", timezone_id="Europe/London", accept_downloads=True
    )
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda exc: problems.append(str(exc)))
    yield tab
    context.close()
    assert problems == [], problems


def _accessible(page: Page) -> None:
    assert axe_violations(page) == [], page.url


def test_hr_journey_unit_officer_calendar_and_download(site: tuple[str, Api], page: Page) -> None:
    base, api = site
    officer = issue_token(SECRET, role="officer", sub="pc.o1", officer_id="O1")
    contest = {"date": "2026-10-06", "category": "other_station", "statement": "At Lambeth"}
    sent = api.client.post(
        "/v1/officers/O1/contests", json=contest, headers={"Authorization": f"Bearer {officer}"}
    )
    assert sent.status_code == 200, sent.text
    sign_in(page, base, "hr", sub="hr.web")
    expect(page.get_by_role("heading", name="Compliance by unit")).to_be_visible()
    page.goto(f"{base}/app/hr?month=2026-10")
    _accessible(page)
    page.get_by_role("link", name="Unit A").click()
    expect(page.get_by_role("heading", name="Unit A", level=1)).to_be_visible()
    _accessible(page)
    row = page.get_by_role("row").filter(has_text="O1")
    expect(row).to_contain_text("below")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith("O1,Alex Smith,,Unit A,3,3,1,")
    page.get_by_role("link", name="O1").click()
    expect(page.get_by_role("table", name="Office days of O1, October 2026")).to_be_visible()
    expect(page.locator("td.state-verified")).to_have_count(1)
    expect(page.locator("td.state-declared")).to_have_count(1)
    expect(page.locator("td.state-contested")).to_have_count(1)
    _accessible(page)
    assert "MOCK_LOCATION" not in page.content()
    page.get_by_role("link", name="Contests to answer").click()
    expect(page.get_by_role("heading", name="Day contests waiting for an answer")).to_be_visible()
    _accessible(page)
    page.get_by_label("Upheld", exact=True).check()
    page.get_by_label("Reason (shown to the officer)").fill("Lambeth door log shows it")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_text("No contest is waiting for an answer.")).to_be_visible()
    page.goto(f"{base}/app/hr/officers/O1?month=2026-10")
    expect(page.locator("td.state-adjusted")).to_have_count(1)
    expect(page.locator("td.state-contested")).to_have_count(0)


def test_investigator_journey_case_queue_flag_review_timeline(
    site: tuple[str, Api], page: Page
) -> None:
    base, api = site
    sign_in(page, base, "investigator", sub="inv.web")
    expect(page.get_by_role("heading", name="Which case is this for?")).to_be_visible()
    _accessible(page)
    page.get_by_label("Case reference").fill(CASE)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Flag queue")).to_be_visible()
    _accessible(page)
    page.get_by_label("Code").select_option("MOCK_LOCATION")  # htmx swaps the table in place
    expect(page.get_by_role("link", name="IMPOSSIBLE_TRAVEL")).to_have_count(0)
    expect(page).to_have_url(
        f"{base}/app/flags?case_ref={CASE}&status=open&code=MOCK_LOCATION&officer_id="
    )
    page.get_by_role("link", name="MOCK_LOCATION").click()
    expect(page.get_by_role("heading", name="Evidence")).to_be_visible()
    _accessible(page)
    page.get_by_label("New status").select_option("under_review")
    page.get_by_label("Why").fill("Asked the officer's line manager")
    page.get_by_role("button", name="Record review").click()
    expect(page.get_by_role("table", name="Reviews, oldest first")).to_contain_text(
        "Asked the officer's line manager"
    )
    expect(page.get_by_role("heading", name="The officer's responses")).to_be_visible()
    page.get_by_label("New status").select_option("substantiated")
    page.get_by_label("Why").fill("The phone log contradicts the fixes")
    page.get_by_role("button", name="Record review").click()
    expect(page.get_by_text("Proposed by inv.web")).to_be_visible()
    expect(page.get_by_text("you cannot confirm your own proposal")).to_be_visible()
    _accessible(page)
    with transaction(api.factory) as session:
        flag = session.get(Flag, "f-mock-0001")
        assert flag is not None
        assert flag.status == "under_review"
    page.get_by_role("link", name="Timeline of that day on a map").click()
    expect(page.get_by_role("heading", name="Timeline of O1")).to_be_visible()
    _accessible(page)


def test_investigator_closes_the_case_with_the_keyboard(site: tuple[str, Api], page: Page) -> None:
    base, api = site
    sign_in(page, base, "investigator", sub="inv.keys")
    page.goto(f"{base}/app/flags?case_ref={CASE}")
    link = page.get_by_role("link", name="Close this case")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Case {CASE}")).to_be_visible()
    _accessible(page)
    button = page.get_by_role("button", name=f"Close case {CASE}")
    button.focus()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("by inv.keys")
    _accessible(page)
    with transaction(api.factory) as session:
        closure = session.get(CaseClosure, CASE)
        assert closure is not None
        assert closure.closed_by == "inv.keys"


def test_officer_journey_month_timeline_and_access_log(site: tuple[str, Api], page: Page) -> None:
    base, _ = site
    sign_in(page, base, "officer", sub="pc.o1", officer_id="O1")
    expect(page.get_by_role("heading", name="My month")).to_be_visible()
    page.goto(f"{base}/app/me?month=2026-10")
    expect(page.get_by_role("heading", name="My share")).to_be_visible()
    expect(page.get_by_role("table", name="Flags raised on my data this month")).to_contain_text(
        "MOCK_LOCATION"
    )
    _accessible(page)
    page.get_by_label("Day", exact=True).select_option("2026-10-06")
    page.get_by_label("What is wrong").select_option("other_station")
    page.get_by_label("Your statement").fill("I worked at Lambeth that day")
    page.get_by_role("button", name="Send contest").click()
    expect(page.get_by_role("table", name="My contested days")).to_contain_text(
        "waiting for an answer"
    )
    _accessible(page)
    page.goto(f"{base}/app/me?month=2026-10")
    expect(page.locator("td.state-contested")).to_have_count(1)
    page.get_by_role("link", name="Open and answer the MOCK_LOCATION flag").click()
    expect(page.get_by_text("You have not answered this flag.")).to_be_visible()
    _accessible(page)
    page.get_by_label("What explains it").select_option("device_problem")
    page.get_by_label("Your statement").fill("My phone was replaced that week")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_role("table", name="My answers to this flag, oldest first")).to_contain_text(
        "My phone was replaced that week"
    )
    page.get_by_role("link", name="Back to my month").click()
    page.get_by_role("link", name="My timeline on a map").click()
    expect(page.get_by_role("heading", name="Timeline of O1")).to_be_visible()
    _accessible(page)
    page.get_by_role("link", name="Who looked at my data").click()
    expect(page.get_by_role("table")).to_contain_text("read.attendance")
    _accessible(page)


def test_auditor_journey_search_and_chain(site: tuple[str, Api], page: Page) -> None:
    base, api = site
    api.client.get("/v1/audit")  # a refused, anonymous call to find
    sign_in(page, base, "auditor", sub="aud.web")
    expect(page.get_by_role("heading", name="Access log")).to_be_visible()
    _accessible(page)
    page.get_by_label("Action").fill("access.refused")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("table", name="Entries in order")).to_contain_text("unauthenticated")
    page.get_by_role("link", name="Chain and refusals").click()
    expect(page.get_by_role("status")).to_contain_text("Verified")
    _accessible(page)


FORBIDDEN = {
    "hr": ("", ["/app/flags?case_ref=C-1", "/app/officers/O1/timeline?case_ref=C-1", "/app/audit"]),
    "investigator": ("", ["/app/hr", "/app/me", "/app/audit"]),
    "officer": ("O1", ["/app/hr", "/app/flags?case_ref=C-1", "/app/officers/O2/timeline"]),
    "auditor": ("", ["/app/hr", "/app/flags?case_ref=C-1", "/app/me"]),
}


def test_forbidden_pages_are_refused_in_the_browser(
    site: tuple[str, Api], browser: Browser
) -> None:
    base, _ = site
    for role, (officer_id, paths) in sorted(FORBIDDEN.items()):
        context = browser.new_context()
        tab = context.new_page()
        sign_in(tab, base, role, officer_id=officer_id)
        for path in paths:
            response = tab.goto(base + path)
            assert response is not None, path
            assert response.status == 403, (role, path)
            expect(tab.get_by_role("heading", name="Not allowed")).to_be_visible()
        _accessible(tab)
        context.close()


def test_keyboard_alone_signs_in_and_reaches_content(site: tuple[str, Api], page: Page) -> None:
    base, _ = site
    page.goto(f"{base}/app/login")
    _accessible(page)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")  # Rollcall
    page.keyboard.press("Tab")  # the role radios: hr is checked
    page.keyboard.press("ArrowRight")  # investigator
    page.keyboard.press("ArrowRight")  # officer
    page.keyboard.press("ArrowRight")  # auditor
    expect(page.get_by_label("auditor", exact=True)).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your name")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Access log")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the skip link
    expect(page.locator("main")).to_be_focused()


def _next_option(page: Page, label: str) -> None:
    """Move a select to its next option with the keyboard (focus, then the down arrow)."""
    field = page.get_by_label(label, exact=True)
    before = field.input_value()
    field.focus()
    page.keyboard.press("ArrowDown")
    assert field.input_value() != before, label


def _type_into(page: Page, label: str, text: str) -> None:
    page.get_by_label(label).focus()
    page.keyboard.type(text)


def _press_button(page: Page, name: str) -> None:
    button = page.get_by_role("button", name=name)
    button.focus()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")


def test_right_of_reply_with_the_keyboard_alone(site: tuple[str, Api], page: Page) -> None:
    """An officer contests a day and answers a flag, and HR answers the contest, with keys only;
    axe checks every screen on the way."""
    base, _ = site
    sign_in(page, base, "officer", sub="pc.keys", officer_id="O1")
    page.goto(f"{base}/app/me?month=2026-10")
    _accessible(page)
    _next_option(page, "Day")
    _next_option(page, "What is wrong")
    _type_into(page, "Your statement", "I was at another station that day")
    _press_button(page, "Send contest")
    expect(page.get_by_role("table", name="My contested days")).to_contain_text(
        "waiting for an answer"
    )
    _accessible(page)
    page.goto(f"{base}/app/me?month=2026-10")
    link = page.get_by_role("link", name="Open and answer the MOCK_LOCATION flag")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("You have not answered this flag.")).to_be_visible()
    _accessible(page)
    _next_option(page, "What explains it")
    _type_into(page, "Your statement", "My phone was replaced that week")
    _press_button(page, "Send answer")
    expect(page.get_by_role("table", name="My answers to this flag, oldest first")).to_contain_text(
        "My phone was replaced that week"
    )
    sign_in(page, base, "hr", sub="hr.keys")
    page.goto(f"{base}/app/hr/contests")
    expect(page.get_by_role("heading", name="Day contests waiting for an answer")).to_be_visible()
    _accessible(page)
    page.get_by_label("Not upheld").focus()
    page.keyboard.press("Space")
    expect(page.get_by_label("Not upheld")).to_be_checked()
    _type_into(page, "Reason (shown to the officer)", "The roster shows the station")
    _press_button(page, "Send answer")
    expect(page.get_by_text("No contest is waiting for an answer.")).to_be_visible()
    _accessible(page)


def test_the_map_is_drawn_without_a_basemap(site: tuple[str, Api], page: Page) -> None:
    base, api = site
    sign_in(page, base, "investigator")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{base}/app/officers/O1/timeline?case_ref={CASE}&from=2026-10-05&to=2026-10-05")
    expect(page.get_by_role("heading", name="Timeline of O1")).to_be_visible()
    assert all(url.startswith(base) for url in requests), requests
