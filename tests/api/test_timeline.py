"""Timeline reads: only what is on duty now, in order, with off-duty gaps that carry only times."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy.orm import Session

from api.timeline import build_timeline, on_duty_records
from intake.pipeline import ingest_frame
from rules.clock import day_bounds
from rules.policy import load_policy
from store.stations import upsert_station
from tests.api.helpers import DAY, FAR, INSIDE, STATION, TZ

NOW = datetime(2026, 11, 1, tzinfo=UTC)
POLICY = load_policy()


def _load(session: Session, kind: str, rows: list[dict[str, str]]) -> None:
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.Utf8))
    report = ingest_frame(session, kind, frame, tz=TZ, policy=POLICY, now=NOW)
    assert report.counts["rejected"] == 0, report.errors


def _world(session: Session) -> None:
    upsert_station(session, STATION, now=NOW)
    _load(session, "officers", [{"officer_id": "O1", "office_based": "true"}])
    _load(
        session,
        "devices",
        [{"device_id": "D1", "officer_id": "O1", "valid_from": "2026-01-01T00:00:00Z"}],
    )
    _load(
        session,
        "roster",
        [
            {
                "shift_id": "S1",
                "officer_id": "O1",
                "start": "2026-10-05T08:00:00+01:00",
                "end": "2026-10-05T12:00:00+01:00",
                "kind": "duty",
                "station_id": "ST1",
            },
            {
                "shift_id": "S2",
                "officer_id": "O1",
                "start": "2026-10-05T14:00:00+01:00",
                "end": "2026-10-05T18:00:00+01:00",
                "kind": "duty",
                "station_id": "ST1",
            },
        ],
    )
    pings = [
        {
            "device_id": "D1",
            "ts": f"2026-10-05T{h:02d}:{m:02d}:00+01:00",
            "lat": str(INSIDE[0] if h < 12 else FAR[0]),
            "lon": str(INSIDE[1] if h < 12 else FAR[1]),
            "accuracy_m": "10",
            "source": "gps",
        }
        for h in (9, 10, 15, 16)
        for m in range(0, 60, 10)
    ]
    _load(session, "pings", pings)


def test_events_in_order_with_off_duty_gaps(session: Session) -> None:
    _world(session)
    start, end = day_bounds(DAY, TZ)
    timeline = build_timeline(session, "O1", start, end, policy=POLICY, tz=TZ)
    events = timeline["events"]
    assert [e["type"] for e in events if e["type"] in ("shift_start", "shift_end")] == [
        "shift_start",
        "shift_end",
        "shift_start",
        "shift_end",
    ]
    off = [(e["start"], e["end"]) for e in events if e["type"] == "off_duty"]
    assert off == [
        ("2026-10-05T00:00:00+01:00", "2026-10-05T07:30:00+01:00"),
        ("2026-10-05T12:30:00+01:00", "2026-10-05T13:30:00+01:00"),
        ("2026-10-05T18:30:00+01:00", "2026-10-06T00:00:00+01:00"),
    ]
    kinds = [e["type"] for e in events if e["type"] in ("presence", "away")]
    assert kinds[0] == "presence"
    assert "away" in kinds
    assert all("lat" not in e and "lon" not in e for e in events)


def test_a_removed_shift_removes_its_events(session: Session) -> None:
    _world(session)
    start, end = day_bounds(DAY, TZ)
    assert on_duty_records(session, "O1", start, end, policy=POLICY).fixes.height == 24
    _load(
        session,
        "roster",
        [
            {
                "shift_id": "S2",
                "officer_id": "O1",
                "start": "2026-10-05T14:00:00+01:00",
                "end": "2026-10-05T18:00:00+01:00",
                "kind": "rest",
            },
        ],
    )
    records = on_duty_records(session, "O1", start, end, policy=POLICY)
    assert records.fixes.height == 12
    timeline = build_timeline(session, "O1", start, end, policy=POLICY, tz=TZ)
    assert [e for e in timeline["events"] if e["type"] == "away"] == []
    assert timeline["events"][-1] == {
        "type": "off_duty",
        "start": "2026-10-05T12:30:00+01:00",
        "end": "2026-10-06T00:00:00+01:00",
    }
