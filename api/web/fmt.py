"""How the pages write dates and times: en-GB, in the force's zone, with the offset on the two
days a year the clocks change."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from rules.clock import day_bounds


def en_date(value: date | str) -> str:
    """``Monday 5 October 2026``."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_date(value: date | str) -> str:
    """``05/10/2026`` (day first, as in the UK)."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day:%d/%m/%Y}"


def is_change_day(day: date, tz: str) -> bool:
    """Whether the clocks change on local ``day`` (23 or 25 hours long)."""
    start, end = day_bounds(day, tz)
    return end - start != timedelta(hours=24)


def local_time(value: datetime | str, tz: str, *, with_date: bool = False) -> str:
    """``08:00`` in the force's zone; ``01:30 +01:00`` on a day the clocks change, where a time
    alone could mean two instants; with ``with_date``, ``05/10/2026 08:00``."""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = instant.astimezone(ZoneInfo(tz))
    text = f"{local:%H:%M}"
    if is_change_day(local.date(), tz):
        offset = local.strftime("%z")
        text += f" {offset[:3]}:{offset[3:]}"
    return f"{short_date(local.date())} {text}" if with_date else text


def parse_month(value: str | None, default: date) -> tuple[date, date]:
    """The first and last day of month ``YYYY-MM`` (``default``'s month when None); ValueError
    for anything else."""
    if value is None:
        first = default.replace(day=1)
    else:
        if len(value) != 7 or value[4] != "-":
            raise ValueError("month must be YYYY-MM")
        first = date(int(value[:4]), int(value[5:]), 1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first, last


def month_label(first: date) -> str:
    """``October 2026``."""
    return f"{first:%B %Y}"


def shift_month(first: date, months: int) -> str:
    """``YYYY-MM`` of the month ``months`` after ``first``'s."""
    index = first.year * 12 + first.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class CalendarDay:
    """One cell of a month calendar; ``day`` None pads the first and last week."""

    day: date | None
    state: str = "none"
    label: str = ""
    change_day: bool = False


def month_weeks(
    first: date, cells: dict[date, tuple[str, str]], tz: str
) -> list[list[CalendarDay]]:
    """Weeks (Monday first) of the month starting ``first``; ``cells`` maps a day to its state
    and a short label."""
    _, length = calendar.monthrange(first.year, first.month)
    padded: list[CalendarDay] = [CalendarDay(None)] * first.weekday()
    for offset in range(length):
        day = first + timedelta(days=offset)
        state, label = cells.get(day, ("none", "no shift"))
        padded.append(CalendarDay(day, state, label, is_change_day(day, tz)))
    padded += [CalendarDay(None)] * (-len(padded) % 7)
    return [padded[i : i + 7] for i in range(0, len(padded), 7)]
