"""Roster integrity through the database on both backends: flags raised, kept, withdrawn."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from intake.pipeline import ingest_frame
from jobs.integrity import find, run_period
from rules.integrity import CLUSTER, INTEGRITY_CODES, OVERLAPPING, SELF_APPROVED, SELF_EDIT
from rules.policy import Policy, load_policy
from rules.schemas import DAILY
from store import results
from store.db import session_factory, transaction
from store.models import Flag
from store.reports import officer_report

TZ = "Europe/London"
NOW = datetime(2026, 4, 2, 6, 0, tzinfo=UTC)
START, END = date(2026, 3, 1), date(2026, 3, 31)


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.Utf8))


def shift(
    sid: str, officer: str, day: int, end: str, by: str, at: str, kind: str = "duty"
) -> dict[str, Any]:
    return {
        "shift_id": sid,
        "officer_id": officer,
        "start": f"2026-03-{day:02d}T08:00:00Z",
        "end": f"2026-03-{day:02d}T{end}:00Z",
        "kind": kind,
        "station_id": "ST1",
        "declared_location": "office" if kind == "duty" else "",
        "created_at": "2026-02-20T09:00:00Z",
        "updated_at": at,
        "edited_by": by,
    }


def roster() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def worked(sid: str, officer: str, day: int, editor: str) -> None:
        """Rostered 08-16 in advance by the administrator, extended to 18:00 the next day."""
        rows.append(shift(sid, officer, day, "16:00", "adm-a", ""))
        rows.append(shift(sid, officer, day, "18:00", editor, f"2026-03-{day + 1:02d}T09:00:00Z"))

    for day in range(11, 15):  # O1 extends four of their own shifts
        worked(f"S1-{day}", "O1", day, "A1")
    for i, (officer, editor) in enumerate((("O2", "A3"), ("O3", "A4"), ("O4", "A2")) * 2):
        worked(f"SR-{i}", officer, 16 + i, editor)  # a ring O2 <- O3 <- O4 <- O2
    for day in range(3, 10):  # the unit administrator catches up O5's late finishes
        worked(f"S5-{day}", "O5", day, "adm-a")
    rows.append(
        {
            **shift("R1-10", "O1", 10, "16:00", "adm-a", "", kind="rest"),
            "start": "2026-03-10T00:00:00Z",
            "end": "2026-03-11T00:00:00Z",
        }
    )
    return rows


CLAIMS = [
    {
        "claim_id": "C1",
        "officer_id": "O5",
        "start": "2026-03-20T16:00:00Z",
        "end": "2026-03-20T19:00:00Z",
        "approved_by": "A5",
        "approved_at": "2026-03-21T10:00:00Z",
    },
    {
        "claim_id": "C2",
        "officer_id": "O1",
        "start": "2026-03-10T10:00:00Z",
        "end": "2026-03-10T14:00:00Z",
        "approved_by": "sgt-1",
        "approved_at": "2026-03-21T10:00:00Z",
    },
    {
        "claim_id": "C3",
        "officer_id": "O5",
        "start": "2026-03-21T16:00:00Z",
        "end": "2026-03-21T19:00:00Z",
        "approved_by": "A1",
        "approved_at": "2026-03-22T10:00:00Z",
    },
]


@pytest.fixture
def loaded(engine: Engine) -> sessionmaker[Session]:
    factory = session_factory(engine)
    policy = load_policy()
    officers = [
        {"officer_id": f"O{i}", "office_based": "true", "account_id": f"A{i}"} for i in range(1, 6)
    ] + [{"officer_id": "O6", "office_based": "true", "account_id": ""}]
    with transaction(factory) as session:
        for kind, rows in (("officers", officers), ("roster", roster()), ("overtime", CLAIMS)):
            report = ingest_frame(session, kind, frame(rows), tz=TZ, policy=policy, now=NOW)
            assert report.counts["rejected"] == 0, report.errors
    return factory


def flags(factory: sessionmaker[Session]) -> list[tuple[str, str, date, bool]]:
    with factory() as session:
        return sorted(
            (f.code, f.officer_id, f.day, f.withdrawn_at is None)
            for f in session.scalars(select(Flag).where(Flag.code.in_(INTEGRITY_CODES)))
        )


EXPECTED = sorted(
    [
        (CLUSTER, "O2", END, True),
        (CLUSTER, "O3", END, True),
        (CLUSTER, "O4", END, True),
        (OVERLAPPING, "O1", date(2026, 3, 10), True),
        (SELF_APPROVED, "O5", date(2026, 3, 20), True),
        (SELF_EDIT, "O1", END, True),
    ]
)


def test_a_period_raises_each_lead_once_and_a_rerun_keeps_them(
    loaded: sessionmaker[Session],
) -> None:
    policy = load_policy()
    with transaction(loaded) as session:
        first = run_period(session, START, END, policy=policy, tz=TZ, now=NOW)
    assert first.writes.flags_raised == 6
    assert flags(loaded) == EXPECTED
    with loaded() as session:
        ids = sorted(session.scalars(select(Flag.flag_id).where(Flag.code.in_(INTEGRITY_CODES))))
    with transaction(loaded) as session:
        again = run_period(session, START, END, policy=policy, tz=TZ, now=NOW)
        # the daily run of a day in the period leaves period leads alone
        results.write_day(
            session,
            END,
            pl.DataFrame(schema=DAILY),
            [],
            policy_version=policy.version,
            run_id=None,
            now=NOW,
        )
    assert (again.writes.flags_raised, again.writes.flags_kept) == (0, 6)
    with loaded() as session:
        assert ids == sorted(
            session.scalars(select(Flag.flag_id).where(Flag.code.in_(INTEGRITY_CODES)))
        )
    assert flags(loaded) == EXPECTED
    edit = first.findings[[f.code for f in first.findings].index(SELF_EDIT)]
    assert edit.evidence["paid_hours"] == 8.0
    assert len(edit.evidence["counted_edits"]) == 4


def test_corrected_data_withdraws_the_lead(loaded: sessionmaker[Session]) -> None:
    policy = load_policy()
    with transaction(loaded) as session:
        run_period(session, START, END, policy=policy, tz=TZ, now=NOW)
        fixed = [{**CLAIMS[0], "approved_by": "sgt-1"}]
        ingest_frame(session, "overtime", frame(fixed), tz=TZ, policy=policy, now=NOW)
    with transaction(loaded) as session:
        report = run_period(session, START, END, policy=policy, tz=TZ, now=NOW)
    assert report.writes.flags_withdrawn == 1
    assert (SELF_APPROVED, "O5", date(2026, 3, 20), False) in flags(loaded)


def test_a_looser_policy_and_hr_views_see_none_of_it(loaded: sessionmaker[Session]) -> None:
    policy: Policy = load_policy().model_copy(
        update={"self_edit_max_per_period": 4, "edit_cluster_min_edits": 7}
    )
    with loaded() as session:
        report = find(session, START, END, policy=policy, tz=TZ)
    assert sorted(f.code for f in report.findings) == [OVERLAPPING, SELF_APPROVED]
    with transaction(loaded) as session:
        run_period(session, START, END, policy=load_policy(), tz=TZ, now=NOW)
    with loaded() as session:
        for officer in ("O1", "O2", "O5"):
            hr = officer_report(session, officer, START, END, include_misconduct=False, tz=TZ)
            assert hr is not None
            assert hr["flags"] == []
        inv = officer_report(session, "O5", START, END, include_misconduct=True, tz=TZ)
        assert inv is not None
        assert [f["code"] for f in inv["flags"]] == [SELF_APPROVED]


def test_claims_overlapping_a_fortnight_of_leave_a_day_shift_and_a_claim_are_found(
    engine: Engine,
) -> None:
    # a fortnight's leave entered as one row (found through the long shifts' own index), a
    # duty shift of the same day as a claim, and two claims over the same hours
    factory = session_factory(engine)
    policy = load_policy()
    leave = {
        **shift("L1", "O1", 2, "16:00", "adm-a", "", kind="leave"),
        "start": "2026-03-02T00:00:00Z",
        "end": "2026-03-16T00:00:00Z",
    }
    roster_rows = [leave, shift("D2", "O2", 20, "16:00", "adm-a", "")]
    claims = [
        {
            **CLAIMS[1],
            "claim_id": "C-leave",
            "officer_id": "O1",
            "start": "2026-03-12T10:00:00Z",
            "end": "2026-03-12T14:00:00Z",
        },
        {
            **CLAIMS[1],
            "claim_id": "C-duty",
            "officer_id": "O2",
            "start": "2026-03-20T15:00:00Z",
            "end": "2026-03-20T18:00:00Z",
        },
        {
            **CLAIMS[1],
            "claim_id": "C-a",
            "officer_id": "O3",
            "start": "2026-03-25T17:00:00Z",
            "end": "2026-03-25T20:00:00Z",
        },
        {
            **CLAIMS[1],
            "claim_id": "C-b",
            "officer_id": "O3",
            "start": "2026-03-25T18:00:00Z",
            "end": "2026-03-25T21:00:00Z",
        },
    ]
    officers = [
        {"officer_id": f"O{i}", "office_based": "true", "account_id": f"A{i}"} for i in (1, 2, 3)
    ]
    with transaction(factory) as session:
        for kind, rows in (("officers", officers), ("roster", roster_rows), ("overtime", claims)):
            report = ingest_frame(session, kind, frame(rows), tz=TZ, policy=policy, now=NOW)
            assert report.counts["rejected"] == 0, report.errors
    with transaction(factory) as session:
        found = find(session, START, END, policy=policy, tz=TZ)
    overlaps = {
        f.evidence["claim_id"]: f.evidence["overlap_minutes"]
        for f in found.findings
        if f.code == OVERLAPPING
    }
    assert overlaps == {"C-leave": 240.0, "C-duty": 60.0, "C-a": 120.0, "C-b": 120.0}
    assert found.rows["overlapping_records"] == 4
