"""The optional roster-integrity columns: editors, approvals and rostering accounts are stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.intake.helpers import World


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path)
    w.load_reference()
    yield w
    w.engine.dispose()


def rows(world: World, sql: str) -> list[tuple[object, ...]]:
    with world.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_officer_accounts_are_stored_and_files_without_them_still_load(world: World) -> None:
    report = world.load(
        "officers",
        "officers2.csv",
        "officer_id,office_based,account_id\nO1,true,acc-o1\nO2,false,\n",
    )
    assert report.counts["rejected"] == 0
    assert rows(world, "SELECT officer_id, account_id FROM officers ORDER BY officer_id") == [
        ("O1", "acc-o1"),
        ("O2", None),
    ]


def test_every_version_of_a_shift_keeps_its_editor_even_within_one_file(world: World) -> None:
    roster = (
        "shift_id,officer_id,start,end,kind,station_id,created_at,updated_at,edited_by\n"
        "S7,O1,2026-10-23T08:00:00+01:00,2026-10-23T16:00:00+01:00,duty,ST1,"
        "2026-10-01T09:00:00Z,,admin-1\n"
        "S7,O1,2026-10-23T08:00:00+01:00,2026-10-23T18:00:00+01:00,duty,ST1,"
        "2026-10-01T09:00:00Z,2026-10-24T09:00:00Z,acc-o1\n"
        # the same content again from another account: nothing changed, not a version
        "S7,O1,2026-10-23T08:00:00+01:00,2026-10-23T18:00:00+01:00,duty,ST1,"
        "2026-10-01T09:00:00Z,2026-10-24T09:00:00Z,admin-2\n"
    )
    report = world.load("roster", "roster-edits.csv", roster)
    assert report.counts == {
        "accepted": 2,
        "duplicate": 1,
        "masked": 0,
        "held": 0,
        "rejected": 0,
    }
    assert rows(
        world, "SELECT version, edited_by FROM shift_versions WHERE shift_id = 'S7' ORDER BY 1"
    ) == [(1, "admin-1"), (2, "acc-o1")]
    assert rows(world, "SELECT version, edited_by FROM shifts WHERE shift_id = 'S7'") == [
        (2, "acc-o1")
    ]
    # a roster file without the column still loads; its versions have no known editor
    assert rows(world, "SELECT edited_by FROM shift_versions WHERE shift_id = 'S1'") == [(None,)]


def test_claim_approvals_are_stored_and_a_bad_approval_time_names_its_row(
    world: World,
) -> None:
    claims = (
        "claim_id,officer_id,start,end,station_id,submitted_at,approved_by,approved_at\n"
        "C1,O1,2026-10-24T16:00:00+01:00,2026-10-24T18:00:00+01:00,ST1,"
        "2026-10-24T19:00:00+01:00,sgt-9,2026-10-25T09:00:00Z\n"
        "C2,O1,2026-10-23T16:00:00+01:00,2026-10-23T18:00:00+01:00,ST1,,sgt-9,yesterday\n"
        "C3,O1,2026-10-22T16:00:00+01:00,2026-10-22T18:00:00+01:00,ST1,,,\n"
    )
    report = world.load("overtime", "overtime.csv", claims)
    assert report.counts["accepted"] == 2
    assert [(e.row, e.column) for e in report.errors] == [(2, "approved_at")]
    got = rows(world, "SELECT claim_id, approved_by FROM overtime_claims ORDER BY claim_id")
    assert got == [("C1", "sgt-9"), ("C3", None)]
    assert world.scalar("SELECT approved_at IS NOT NULL FROM overtime_claims WHERE claim_id = 'C1'")
