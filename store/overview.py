"""Small reads the web app needs beside the reports: the newest computed day, one flag."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.models import DailyResult, Flag, Officer


def latest_result_day(session: Session) -> date | None:
    """The newest local day with a daily result (None when the nightly has never run)."""
    day: date | None = session.scalar(select(func.max(DailyResult.day)))
    return day


def flag_by_id(session: Session, flag_id: str) -> Flag | None:
    """One flag, withdrawn or not; None when there is no such flag."""
    return session.get(Flag, flag_id)


def officer_unit(session: Session, officer_id: str) -> tuple[bool, str | None]:
    """Whether the officer exists, and their unit."""
    row = session.execute(select(Officer.unit).where(Officer.officer_id == officer_id)).first()
    return (row is not None, row[0] if row is not None else None)
