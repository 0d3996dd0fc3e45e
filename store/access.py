"""What an officer may see of the audit log about them: who read or changed their data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.disclosure import disclosed
from store.cases import closed_cases
from store.models import AuditEntry

# Refused requests read nothing; everything else recorded about the officer is shown.
NOT_SHOWN_ACTIONS = ("access.refused",)


@dataclass(frozen=True)
class AccessEntry:
    """One read or change of the officer's data as the officer sees it (never its detail, which
    may name other officers)."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    purpose: str | None
    case_ref: str | None


def access_log(
    session: Session,
    officer_id: str,
    *,
    now: datetime,
    disclosure_days: int,
    after_seq: int | None = None,
    limit: int = 200,
) -> tuple[list[AccessEntry], int | None]:
    """A page of the officer's access log in seq order and the next page's ``after_seq``.

    Entries made under a case still open are left out until the case is closed or
    ``disclosure_days`` have passed (rules.disclosure); nothing says that any were left out.
    """
    out: list[AccessEntry] = []
    cursor = after_seq
    while len(out) < limit:
        query = (
            select(AuditEntry)
            .where(AuditEntry.officer_id == officer_id, AuditEntry.action.not_in(NOT_SHOWN_ACTIONS))
            .order_by(AuditEntry.seq)
            .limit(limit)
        )
        if cursor is not None:
            query = query.where(AuditEntry.seq > cursor)
        rows = list(session.scalars(query))
        if not rows:
            return out, None
        closed = closed_cases(session, [r.case_ref for r in rows])
        for row in rows:
            cursor = int(row.seq)
            if disclosed(
                row.case_ref, row.at, closed=closed, now=now, disclosure_days=disclosure_days
            ):
                out.append(
                    AccessEntry(
                        seq=int(row.seq),
                        at=row.at,
                        actor=row.actor,
                        role=row.role,
                        action=row.action,
                        purpose=row.purpose,
                        case_ref=row.case_ref,
                    )
                )
                if len(out) == limit:
                    return out, cursor
        if len(rows) < limit:
            return out, None
    return out, cursor
