"""Helpers shared by the role pages: the month asked for and the case reference."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.errors import BadRequest
from api.web import fmt
from rules.records import DayEvidence, DeclaredLocation
from store.overview import latest_result_day


def month_of(session: Session, month: str | None, tz: str, now: datetime) -> tuple[date, date]:
    """First and last day of ``month`` (YYYY-MM); by default the month of the newest results
    (or the month of ``now`` in the force's zone when nothing has been computed)."""
    default = latest_result_day(session) or now.astimezone(ZoneInfo(tz)).date()
    try:
        return fmt.parse_month(month, default)
    except ValueError as exc:
        raise BadRequest("month must be YYYY-MM, for example 2026-10") from exc


def month_links(first: date) -> dict[str, str]:
    """The month shown, the previous and the next, for the month picker."""
    return {
        "month": f"{first:%Y-%m}",
        "label": fmt.month_label(first),
        "prev": fmt.shift_month(first, -1),
        "next": fmt.shift_month(first, 1),
    }


def day_cells(
    days: list[dict[str, object]], adjusted: set[str], contested: set[str]
) -> dict[date, tuple[str, str]]:
    """Calendar states of an officer's day rows: a contest or adjustment first, then days that
    are not office days (field, rest: their declared place), then insufficient evidence (never
    shown as absence), verified, declared office but not verified, remote."""
    cells: dict[date, tuple[str, str]] = {}
    for row in days:
        day_text = str(row["date"])
        day = date.fromisoformat(day_text)
        where = row.get("declared_location")
        if day_text in contested:
            cells[day] = ("contested", "contested")
        elif day_text in adjusted:
            cells[day] = ("adjusted", "adjusted")
        elif not row.get("expected_office"):
            cells[day] = ("other", f"{where or 'not an office day'}")
        elif row.get("evidence") == DayEvidence.INSUFFICIENT:
            cells[day] = ("insufficient", "insufficient evidence")
        elif row.get("verified_office_day"):
            cells[day] = ("verified", "verified office day")
        elif where == DeclaredLocation.OFFICE:
            cells[day] = ("declared", "declared office, not verified")
        else:
            cells[day] = ("remote", f"declared {where}")
    return cells


def day_marks(
    days: list[dict[str, object]], open_contest_days: list[date]
) -> tuple[set[str], set[str]]:
    """Adjusted days (an upheld contest or another recorded adjustment on the day row) and
    contested days (a contest still waiting for an answer), as ISO dates for ``day_cells``."""
    adjusted = {str(row["date"]) for row in days if row.get("adjustments")}
    contested = {d.isoformat() for d in open_contest_days}
    return adjusted, contested


def form_error(exc: ValidationError) -> BadRequest:
    """A form that does not fit the API's body model, as a 400 naming the field (never echoing
    what was typed)."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first.get("loc", ())) or "form"
    return BadRequest(f"field {field}: {first.get('msg', 'invalid')}")
