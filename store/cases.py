"""Cases investigators close: the reads and reviews made under them become visible to the officer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.models import CaseClosure


def close_case(session: Session, case_ref: str, *, actor: str, now: datetime) -> CaseClosure:
    """Record that ``case_ref`` is closed (closing it again, even at the same moment from another
    session, keeps the first closure); flushes."""
    existing = session.get(CaseClosure, case_ref)
    if existing is not None:
        return existing
    closure = CaseClosure(case_ref=case_ref, closed_at=now, closed_by=actor)
    try:
        with session.begin_nested():
            session.add(closure)
    except IntegrityError:
        return session.scalars(select(CaseClosure).where(CaseClosure.case_ref == case_ref)).one()
    return closure


def closed_cases(session: Session, case_refs: Iterable[str | None]) -> set[str]:
    """Those of ``case_refs`` that are closed."""
    refs = sorted({c for c in case_refs if c is not None})
    out: set[str] = set()
    for i in range(0, len(refs), 5000):
        out.update(
            session.scalars(
                select(CaseClosure.case_ref).where(CaseClosure.case_ref.in_(refs[i : i + 5000]))
            )
        )
    return out
