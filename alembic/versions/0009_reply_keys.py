"""replies keyed by their content: one row for the same answer or contest sent twice at once

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:30:00

``flag_responses`` and ``day_contests`` gain ``statement_digest`` (SHA-256 of the statement,
hex) and a unique index on the reply's natural key: (flag_id, category, digest) and (officer_id,
day, category, digest). Two identical requests in flight at once then store one row; the second
is answered as a repeat. Existing rows get their digest; a repeat stored earlier (the race this
closes) keeps a NULL digest, so nothing recorded is dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {
    "flag_responses": ("response_id", ("flag_id", "category")),
    "day_contests": ("contest_id", ("officer_id", "day", "category")),
}


def _backfill(table: str, pk: str, key: Sequence[str]) -> None:
    """Set each row's digest, the first of equal keys only (by id)."""
    conn = op.get_bind()
    columns = ", ".join(key)
    rows = conn.execute(sa.text(f"SELECT {pk}, {columns}, statement FROM {table} ORDER BY {pk}"))
    seen: set[tuple[object, ...]] = set()
    update = sa.text(f"UPDATE {table} SET statement_digest = :digest WHERE {pk} = :id")
    for row in rows.all():
        digest = hashlib.sha256(row[-1].encode()).hexdigest()
        natural = (*row[1:-1], digest)
        if natural not in seen:
            seen.add(natural)
            conn.execute(update, {"digest": digest, "id": row[0]})


def upgrade() -> None:
    for table, (pk, key) in KEYS.items():
        op.add_column(table, sa.Column("statement_digest", sa.String(length=64), nullable=True))
        _backfill(table, pk, key)
    op.create_index(
        "ux_flag_responses_key",
        "flag_responses",
        ["flag_id", "category", "statement_digest"],
        unique=True,
    )
    op.create_index(
        "ux_day_contests_key",
        "day_contests",
        ["officer_id", "day", "category", "statement_digest"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_day_contests_key", table_name="day_contests")
    op.drop_index("ux_flag_responses_key", table_name="flag_responses")
    for table in KEYS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("statement_digest")
