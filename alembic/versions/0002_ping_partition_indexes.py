"""pings: the (officer_id, ts) index per day partition on PostgreSQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:30:00

On PostgreSQL the (officer_id, ts) index of ``pings`` becomes an index of each day partition, made
by the code that makes the partition, instead of an index of the partitioned table. A bulk load of a
new day can then build it once, sorted, after the rows are in (store.load.DeferredIndexes), instead
of inserting into it row by row. SQLite keeps its single index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _partitions() -> list[str]:
    return list(
        op.get_bind()
        .execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'pings'::regclass ORDER BY c.relname"
            )
        )
        .scalars()
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_pings_officer_ts", table_name="pings")
    for name in _partitions():
        op.execute(f"CREATE INDEX IF NOT EXISTS ix_{name}_officer_ts ON {name} (officer_id, ts)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _partitions():
        op.execute(f"DROP INDEX IF EXISTS ix_{name}_officer_ts")
    op.create_index("ix_pings_officer_ts", "pings", ["officer_id", "ts"], unique=False)
