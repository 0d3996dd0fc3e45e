"""en-GB dates and local times, with the offset on the days the clocks change."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.web import fmt

TZ = "Europe/London"


def test_dates_are_written_day_first() -> None:
    assert fmt.en_date(date(2026, 10, 5)) == "Monday 5 October 2026"
    assert fmt.short_date("2026-03-29") == "29/03/2026"


def test_times_show_the_offset_only_on_change_days() -> None:
    assert fmt.local_time(datetime(2026, 10, 5, 7, 0, tzinfo=UTC), TZ) == "08:00"
    # the repeated hour of 25 October 2026: 01:30 twice, told apart by the offset
    first = fmt.local_time(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), TZ)
    second = fmt.local_time(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), TZ)
    assert (first, second) == ("01:30 +01:00", "01:30 +00:00")
    assert (
        fmt.local_time("2026-03-29T01:30:00+00:00", TZ, with_date=True) == "29/03/2026 02:30 +01:00"
    )
    assert fmt.is_change_day(date(2026, 3, 29), TZ)
    assert not fmt.is_change_day(date(2026, 3, 30), TZ)


def test_month_parsing_and_calendar_weeks() -> None:
    assert fmt.parse_month("2026-02", date(2026, 10, 5)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert fmt.parse_month(None, date(2026, 10, 5)) == (date(2026, 10, 1), date(2026, 10, 31))
    with pytest.raises(ValueError, match="YYYY-MM"):
        fmt.parse_month("2026-1", date(2026, 10, 5))
    assert fmt.shift_month(date(2026, 1, 1), -1) == "2025-12"
    weeks = fmt.month_weeks(date(2026, 10, 1), {date(2026, 10, 5): ("verified", "v")}, TZ)
    assert len(weeks) == 5
    assert all(len(w) == 7 for w in weeks)
    assert weeks[0][3].day == date(2026, 10, 1)  # a Thursday
    assert weeks[1][0].state == "verified"
    assert [c.day for w in weeks for c in w if c.change_day] == [date(2026, 10, 25)]


def test_calendar_states_of_day_rows() -> None:
    from api.web.common import day_cells

    def row(day: str, **kw: object) -> dict[str, object]:
        base = {"date": day, "expected_office": True, "declared_location": "office"}
        return {**base, "verified_office_day": False, "evidence": "adequate", **kw}

    rows = [
        row(
            "2026-10-01",
            expected_office=False,
            declared_location=None,
            evidence="insufficient_evidence",
        ),
        row("2026-10-02", expected_office=False, declared_location="field"),
        row("2026-10-05", evidence="insufficient_evidence"),
        row("2026-10-06", verified_office_day=True),
        row("2026-10-07"),
        row("2026-10-08", declared_location="remote"),
        row("2026-10-09"),
        row("2026-10-12"),
    ]
    cells = day_cells(rows, adjusted={"2026-10-09"}, contested={"2026-10-12"})
    assert [cells[date(2026, 10, d)][0] for d in (1, 2, 5, 6, 7, 8, 9, 12)] == [
        "other",
        "other",
        "insufficient",
        "verified",
        "declared",
        "remote",
        "adjusted",
        "contested",
    ]
    assert cells[date(2026, 10, 1)][1] == "not an office day"
