"""masked_keys: each masked event counted once, whatever the route or the retry

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 03:30:00

A masked (off-duty) event leaves a salted 16-byte digest of its natural key, with its local day,
so a file imported again after a killed import, two imports of one file at once or a batch sent
twice add nothing to ``masked_counts``. The digest holds no location and no readable key; digests
are removed with the raw events (``retention_days_raw``), after which such an event is refused
anyway. The salt is one random value per database.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "masked_keys",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "digest", name=op.f("pk_masked_keys")),
    )
    op.create_index(op.f("ix_masked_keys_day"), "masked_keys", ["day"])
    salt = op.create_table(
        "masking_salt",
        sa.Column("salt_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("salt_id", name=op.f("pk_masking_salt")),
    )
    op.bulk_insert(salt, [{"salt_id": 1, "salt": os.urandom(32)}])


def downgrade() -> None:
    op.drop_table("masking_salt")
    op.drop_index(op.f("ix_masked_keys_day"), table_name="masked_keys")
    op.drop_table("masked_keys")
