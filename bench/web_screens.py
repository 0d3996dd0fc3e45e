"""The web app's screens on the demo database: who sees which page, with real ids from it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.orm import Session

from rules.policy import Policy
from store.overview import latest_result_day
from store.reports import compliance_rows, list_flags

CASE = "DEMO-1"


@dataclass(frozen=True)
class Screen:
    """One screen: a name for its file, the role that opens it and its path."""

    name: str
    role: str
    path: str
    officer_id: str = ""


def demo_screens(session: Session, policy: Policy) -> list[Screen]:
    """Every screen of every role, on the demo database's newest month."""
    last = latest_result_day(session)
    if last is None:
        raise SystemExit("the database has no results: run `make demo` first")
    first = last.replace(day=1)
    month = f"{first:%Y-%m}"
    rows = compliance_rows(session, first, last, unit=None, policy=policy)
    below = next((r for r in rows if not r["meets_policy"]), rows[0])
    unit, officer = below["unit"], below["officer_id"]
    flags, _ = list_flags(session, misconduct=True, limit=1)
    flag = flags[0]
    subject = flag["officer_id"]
    return [
        Screen("login", "", "/app/login"),
        Screen("hr-units", "hr", f"/app/hr?month={month}"),
        Screen("hr-unit", "hr", f"/app/hr/units/{quote(unit)}?month={month}"),
        Screen("hr-officer", "hr", f"/app/hr/officers/{officer}?month={month}"),
        Screen("investigator-case", "investigator", "/app/investigate"),
        Screen("investigator-queue", "investigator", f"/app/flags?case_ref={CASE}"),
        Screen(
            "investigator-flag", "investigator", f"/app/flags/{flag['flag_id']}?case_ref={CASE}"
        ),
        Screen(
            "investigator-timeline",
            "investigator",
            f"/app/officers/{subject}/timeline?case_ref={CASE}&from={flag['date']}&to={flag['date']}",
        ),
        Screen("officer-month", "officer", f"/app/me?month={month}", subject),
        Screen(
            "officer-timeline-month",
            "officer",
            f"/app/officers/{subject}/timeline?from={first}&to={last}",
            subject,
        ),
        Screen("officer-access-log", "officer", "/app/me/access", subject),
        Screen("auditor-log", "auditor", "/app/audit"),
        Screen("auditor-status", "auditor", "/app/audit/status"),
    ]
