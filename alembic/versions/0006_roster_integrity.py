"""roster integrity: shift editors, claim approvals, officers' rostering accounts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:30:00

Optional contract columns (CONTRACT §2 additions): roster.csv ``edited_by`` on the current shift
and on every stored version, overtime.csv ``approved_by`` and ``approved_at``, officers.csv
``account_id`` (indexed: approvals and edits are matched to officers through it). Rows stored
before this revision have them null, which the integrity rules read as unknown.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADDED = (
    ("shifts", "edited_by"),
    ("shift_versions", "edited_by"),
    ("overtime_claims", "approved_by"),
    ("overtime_claims", "approved_at"),
    ("officers", "account_id"),
)


def upgrade() -> None:
    op.add_column("officers", sa.Column("account_id", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_officers_account_id"), "officers", ["account_id"], unique=False)
    op.add_column("shifts", sa.Column("edited_by", sa.String(length=64), nullable=True))
    op.add_column("shift_versions", sa.Column("edited_by", sa.String(length=64), nullable=True))
    op.add_column("overtime_claims", sa.Column("approved_by", sa.String(length=64), nullable=True))
    op.add_column("overtime_claims", sa.Column("approved_at", store.types.Instant(), nullable=True))


def downgrade() -> None:
    op.drop_index(op.f("ix_officers_account_id"), table_name="officers")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): no table copy.
    for table, column in reversed(_ADDED):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
