"""the review record: review case_ref and kind, officer responses, day contests, adjustments,
case closures, device platform

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 03:30:00

Reviews gain the case they were made under and their kind (a single reviewer's change, a
proposal to substantiate, the second investigator's confirmation). Officers answer flags
(flag_responses) and contest days (day_contests); an upheld contest is an adjustment the nightly
job applies. Closing a case (case_closures) shows the officer the reads made under it. Devices
carry an optional platform (android, ios, other) for the fairness report.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("flag_reviews", sa.Column("case_ref", sa.String(length=200), nullable=True))
    op.add_column(
        "flag_reviews",
        sa.Column("kind", sa.String(length=16), server_default="change", nullable=False),
    )
    op.add_column("device_assignments", sa.Column("platform", sa.String(length=16), nullable=True))
    op.create_table(
        "flag_responses",
        sa.Column("response_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flag_id", sa.String(length=36), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("at", store.types.Instant(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.flag_id"], name=op.f("fk_flag_responses_flag_id_flags")
        ),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_flag_responses")),
    )
    op.create_index(op.f("ix_flag_responses_flag_id"), "flag_responses", ["flag_id"])
    op.create_index(op.f("ix_flag_responses_officer_id"), "flag_responses", ["officer_id"])
    op.create_table(
        "day_contests",
        sa.Column("contest_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", store.types.Instant(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answered_at", store.types.Instant(), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=True),
        sa.Column("answered_role", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("contest_id", name=op.f("pk_day_contests")),
    )
    op.create_index("ix_day_contests_officer_day", "day_contests", ["officer_id", "day"])
    op.create_table(
        "adjustments",
        sa.Column("adjustment_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("effect", sa.String(length=24), nullable=False),
        sa.Column("contest_id", sa.Integer(), nullable=True),
        sa.Column("made_at", store.types.Instant(), nullable=False),
        sa.Column("made_by", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contest_id"],
            ["day_contests.contest_id"],
            name=op.f("fk_adjustments_contest_id_day_contests"),
        ),
        sa.PrimaryKeyConstraint("adjustment_id", name=op.f("pk_adjustments")),
    )
    op.create_index("ix_adjustments_day_officer", "adjustments", ["day", "officer_id"])
    op.create_table(
        "case_closures",
        sa.Column("case_ref", sa.String(length=200), nullable=False),
        sa.Column("closed_at", store.types.Instant(), nullable=False),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("case_ref", name=op.f("pk_case_closures")),
    )


def downgrade() -> None:
    op.drop_table("case_closures")
    op.drop_index("ix_adjustments_day_officer", table_name="adjustments")
    op.drop_table("adjustments")
    op.drop_index("ix_day_contests_officer_day", table_name="day_contests")
    op.drop_table("day_contests")
    op.drop_index(op.f("ix_flag_responses_officer_id"), table_name="flag_responses")
    op.drop_index(op.f("ix_flag_responses_flag_id"), table_name="flag_responses")
    op.drop_table("flag_responses")
    for table, column in (
        ("device_assignments", "platform"),
        ("flag_reviews", "kind"),
        ("flag_reviews", "case_ref"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
