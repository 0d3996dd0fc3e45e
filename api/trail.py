"""Audit helpers for endpoints: who (the principal), which request, why (case_ref or purpose)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from api.auth import Principal, Role
from api.errors import BadRequest
from store import audit

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.:#-]{0,99}$")


def check_ref(value: str | None, name: str) -> str | None:
    """A case reference or purpose: 1-100 plain characters (letters, digits, / _ . : # -) or None."""
    if value is None:
        return None
    if not _REF.match(value):
        raise BadRequest(f"{name} must be 1-100 letters, digits or / _ . : # -")
    return value


def require_case_ref(principal: Principal, case_ref: str | None) -> str | None:
    """Investigators must say which case a read of a person's data is for (400 otherwise)."""
    case_ref = check_ref(case_ref, "case_ref")
    if principal.role is Role.INVESTIGATOR and case_ref is None:
        raise BadRequest("an investigator must give case_ref to read an officer's data")
    return case_ref


def record(
    session: Session,
    principal: Principal,
    request_id: str,
    action: str,
    *,
    officer_id: str | None = None,
    case_ref: str | None = None,
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append the audit entry of this request (call it last: the chain lock lasts until commit).

    An officer reading their own data is recorded with purpose ``subject_access``.
    """
    if purpose is None and principal.role is Role.OFFICER:
        purpose = "subject_access"
    audit.append(
        session,
        actor=principal.sub,
        role=principal.role.value,
        action=action,
        officer_id=officer_id,
        case_ref=case_ref,
        purpose=purpose,
        request_id=request_id,
        detail=detail,
    )
