"""Helpers for API tests: tokens for every role and a small seeded force."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth import issue_token
from intake.pipeline import ingest_frame
from rollcall.settings import Settings
from rules.policy import load_policy
from store.db import transaction
from store.models import DailyResult, Flag
from tests.clock import API_NOW, TestClock
from tests.intake.helpers import STATION, STATION_LAT, STATION_LON

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient as TestClient

SECRET = "rollcall-test-secret-0123456789abcdef"
TZ = "Europe/London"
DAY = date(2026, 10, 5)

INSIDE = (STATION_LAT, STATION_LON)  # lat, lon inside ST1
FAR = (51.5550, -0.0500)  # lat, lon about 7 km away

SHIFTS = [
    {
        "shift_id": "S1",
        "officer_id": "O1",
        "start": "2026-10-05T08:00:00+01:00",
        "end": "2026-10-05T16:00:00+01:00",
        "kind": "duty",
        "station_id": "ST1",
        "declared_location": "office",
        "created_at": "2026-09-20T09:00:00Z",
    },
    {
        "shift_id": "S2",
        "officer_id": "O2",
        "start": "2026-10-05T00:00:00+01:00",
        "end": "2026-10-06T00:00:00+01:00",
        "kind": "rest",
    },
]


@dataclass
class Api:
    """A test client on a fresh app and database, with helpers for tokens."""

    client: TestClient
    factory: sessionmaker[Session]

    def now(self) -> datetime:
        """The app's "now" (in tests, a clock a few days after the fixture days)."""
        now: datetime = self.client.app.state.rollcall.clock()  # type: ignore[attr-defined]
        return now

    def headers(
        self, role: str, officer_id: str | None = None, sub: str | None = None, **claims: Any
    ) -> dict[str, str]:
        token = issue_token(SECRET, role=role, sub=sub or f"{role}-user", officer_id=officer_id)
        return {"Authorization": f"Bearer {token}"}

    def ping(
        self, ts: str, where: tuple[float, float], device: str = "D1", **extra: Any
    ) -> dict[str, Any]:
        return {
            "device_id": device,
            "ts": ts,
            "lat": where[0],
            "lon": where[1],
            "accuracy_m": 10.0,
            "source": "gps",
            "is_mock": False,
            **extra,
        }


@contextmanager
def running_app(db_url: str, export_key_file: Path, **settings: Any) -> Iterator[Api]:
    """A fresh app on ``db_url`` (HS256 with SECRET, exports signed with ``export_key_file``,
    the tests' clock), with any other ``settings``, started and stopped around the block."""
    app = create_app(
        Settings(
            database_url=db_url,
            jwt_secret=SECRET,
            timezone=TZ,
            export_key_file=export_key_file,
            **settings,
        ),
        clock=TestClock(API_NOW),
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, factory=app.state.rollcall.factory)


@contextmanager
def lock_held(
    hold: Callable[[str, threading.Event, threading.Event], None], db_url: str
) -> Iterator[None]:
    """``hold(db_url, held, release)`` on a thread of its own for the length of the block: it
    sets ``held`` once it holds its lock, then keeps it until ``release`` is set."""
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=(db_url, held, release))
    holder.start()
    try:
        assert held.wait(10)
        yield
    finally:
        release.set()
        holder.join()


def _frame(rows: list[dict[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.Utf8))


def seed_reference(api: Api) -> None:
    """Station ST1 (over HTTP), officers O1 (office-based) and O2, devices, badges, shifts."""
    r = api.client.put("/v1/stations/ST1", json=STATION, headers=api.headers("admin"))
    assert r.status_code == 200, r.text
    policy, now = load_policy(), api.now()
    with transaction(api.factory) as session:
        for kind, rows in {
            "officers": [
                {
                    "officer_id": "O1",
                    "display_name": "Alex Smith",
                    "unit": "Unit A",
                    "office_based": "true",
                },
                {
                    "officer_id": "O2",
                    "display_name": "Sam Jones",
                    "unit": "Unit B",
                    "office_based": "true",
                },
            ],
            "devices": [
                {"device_id": "D1", "officer_id": "O1", "valid_from": "2026-01-01T00:00:00Z"},
                {"device_id": "D2", "officer_id": "O2", "valid_from": "2026-01-01T00:00:00Z"},
            ],
            "badges": [
                {"badge_id": "B1", "officer_id": "O1", "valid_from": "2026-01-01T00:00:00Z"}
            ],
        }.items():
            report = ingest_frame(session, kind, _frame(rows), tz=TZ, policy=policy, now=now)
            assert report.counts["rejected"] == 0, report.errors
    r = api.client.put("/v1/roster", json={"shifts": SHIFTS}, headers=api.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == 0, r.text


def seed_results(api: Api) -> dict[str, str]:
    """A day result for O1 and two flags: one misconduct (MOCK_LOCATION), one compliance."""
    now = api.now()
    flags = {"mock": "f-mock-0001", "share": "f-share-0001", "o2": "f-o2-0001"}
    with transaction(api.factory) as session:
        for offset in range(3):
            session.add(
                DailyResult(
                    officer_id="O1",
                    day=DAY + timedelta(days=offset),
                    expected_office=True,
                    declared_location="office",
                    verified_presence_minutes=60.0 if offset else 420.0,
                    verified_office_day=offset == 0,
                    evidence="adequate",
                    policy_version="p-test",
                    run_id=None,
                    computed_at=now,
                    details=None,
                )
            )
        for key, officer, code, misconduct in (
            ("mock", "O1", "MOCK_LOCATION", True),
            ("share", "O1", "BELOW_OFFICE_SHARE", False),
            ("o2", "O2", "IMPOSSIBLE_TRAVEL", True),
        ):
            session.add(
                Flag(
                    flag_id=flags[key],
                    fingerprint=f"fp-{key}",
                    officer_id=officer,
                    code=code,
                    day=DAY,
                    status="open",
                    misconduct=misconduct,
                    summary=f"{code} on {DAY}",
                    evidence={"threshold": 3, "events": 4},
                    rule_version="r1",
                    policy_version="p-test",
                    raised_at=now,
                    last_seen_at=now,
                    withdrawn_at=None,
                )
            )
    return flags
