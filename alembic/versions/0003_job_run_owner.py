"""job_runs: the owning process and its heartbeat

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:50:00

A run records the process that runs it (host, pid, and a token telling a reused pid apart) and a
heartbeat, so a run whose process was killed outright can be found and marked ``abandoned``. Runs
recorded before this revision have neither; their start time stands in for the heartbeat.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("owner_host", "owner_pid", "owner_token", "heartbeat_at")


def upgrade() -> None:
    op.add_column("job_runs", sa.Column("owner_host", sa.String(length=255), nullable=True))
    op.add_column("job_runs", sa.Column("owner_pid", sa.Integer(), nullable=True))
    op.add_column("job_runs", sa.Column("owner_token", sa.String(length=80), nullable=True))
    op.add_column("job_runs", sa.Column("heartbeat_at", store.types.Instant(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): no table copy, the foreign key from
    # daily_results stays as it is.
    for name in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE job_runs DROP COLUMN {name}")
