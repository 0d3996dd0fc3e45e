"""The record of imported files: which file (by kind and SHA-256) was imported, when, with what
counts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import ImportRecord


def imported_before(session: Session, kind: str, sha256: str) -> bool:
    """Whether a file of ``kind`` with this SHA-256 (hex) was imported before."""
    stmt = select(ImportRecord.import_id).where(
        ImportRecord.kind == kind, ImportRecord.sha256 == sha256
    )
    return session.execute(stmt).first() is not None


def record_import(
    session: Session,
    *,
    kind: str,
    file_name: str,
    sha256: str,
    imported_at: datetime,
    counts: dict[str, Any],
) -> None:
    """Record one import of a file. Only adds to the session."""
    session.add(
        ImportRecord(
            kind=kind, file_name=file_name, sha256=sha256, imported_at=imported_at, counts=counts
        )
    )
