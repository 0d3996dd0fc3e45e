"""roster integrity: partial indexes for the period's reads

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 07:00:00

``ix_shift_versions_late`` holds only the shift versions edited after their shift began (on
both backends): the roster-integrity period reads those without scanning a year's versions.
``ix_shifts_long`` (PostgreSQL) holds the shifts longer than a day and two hours, so the overlap
read probes every claim one day back plus this small index, instead of a fortnight back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LATE_VERSION_SQL = "COALESCE(updated_at, created_at, recorded_at) > start_at"
LONG_SHIFT_SQL = "end_at - start_at > interval '26 hours'"


def upgrade() -> None:
    op.create_index(
        "ix_shift_versions_late",
        "shift_versions",
        ["start_at"],
        unique=False,
        postgresql_where=sa.text(LATE_VERSION_SQL),
        sqlite_where=sa.text(LATE_VERSION_SQL),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_shifts_long",
            "shifts",
            ["officer_id", "start_at"],
            unique=False,
            postgresql_where=sa.text(LONG_SHIFT_SQL),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_shifts_long", table_name="shifts")
    op.drop_index("ix_shift_versions_late", table_name="shift_versions")
