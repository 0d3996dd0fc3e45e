"""visits, held visits and device receipts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:40:00

Operating-system visits (CONTRACT §2 additions, import kind ``visits``): the on-duty pieces of
each visit (``visits``, keyed (arrived_at, device_id) like pings' (ts, device_id)) and the pieces
no shift covers yet (``held_visits``). ``device_receipts``: when the server received a device's
on-duty fixes over HTTP and the newest fix's own time, from which a device clock's offset is
estimated (store.clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _visit_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("arrived_at", store.types.Instant(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("departed_at", store.types.Instant(), nullable=False),
        sa.Column("departure_known", sa.Boolean(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "visits",
        *_visit_columns(),
        sa.PrimaryKeyConstraint("arrived_at", "device_id", name=op.f("pk_visits")),
    )
    op.create_index("ix_visits_officer_arrived", "visits", ["officer_id", "arrived_at"])
    op.create_table(
        "held_visits",
        *_visit_columns(),
        sa.Column("held_at", store.types.Instant(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "arrived_at", name=op.f("pk_held_visits")),
    )
    op.create_index(op.f("ix_held_visits_officer_id"), "held_visits", ["officer_id"])
    op.create_table(
        "device_receipts",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("received_at", store.types.Instant(), nullable=False),
        sa.Column("newest_ts", store.types.Instant(), nullable=False),
        sa.Column("fixes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "received_at", name=op.f("pk_device_receipts")),
    )
    op.create_index("ix_device_receipts_received_at", "device_receipts", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_device_receipts_received_at", table_name="device_receipts")
    op.drop_table("device_receipts")
    op.drop_index(op.f("ix_held_visits_officer_id"), table_name="held_visits")
    op.drop_table("held_visits")
    op.drop_index("ix_visits_officer_arrived", table_name="visits")
    op.drop_table("visits")
