"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 03:25:31.223387
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

import store.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    if is_pg:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", store.types.Instant(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=True),
        sa.Column("case_ref", sa.String(length=200), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(op.f("ix_audit_log_officer_id"), "audit_log", ["officer_id"], unique=False)
    op.create_table(
        "badge_assignments",
        sa.Column("badge_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", store.types.Instant(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("valid_to", store.types.Instant(), nullable=True),
        sa.PrimaryKeyConstraint("badge_id", "valid_from", name=op.f("pk_badge_assignments")),
    )
    op.create_index(
        op.f("ix_badge_assignments_officer_id"), "badge_assignments", ["officer_id"], unique=False
    )
    op.create_table(
        "device_assignments",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", store.types.Instant(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("valid_to", store.types.Instant(), nullable=True),
        sa.PrimaryKeyConstraint("device_id", "valid_from", name=op.f("pk_device_assignments")),
    )
    op.create_index(
        op.f("ix_device_assignments_officer_id"), "device_assignments", ["officer_id"], unique=False
    )
    op.create_table(
        "flags",
        sa.Column("flag_id", sa.String(length=36), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("misconduct", sa.Boolean(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("rule_version", sa.String(length=64), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("raised_at", store.types.Instant(), nullable=False),
        sa.Column("last_seen_at", store.types.Instant(), nullable=False),
        sa.Column("withdrawn_at", store.types.Instant(), nullable=True),
        sa.PrimaryKeyConstraint("flag_id", name=op.f("pk_flags")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_flags_fingerprint")),
    )
    op.create_index("ix_flags_officer_day", "flags", ["officer_id", "day"], unique=False)
    op.create_index("ix_flags_status_code", "flags", ["status", "code"], unique=False)
    op.create_table(
        "held_pings",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("ts", store.types.Instant(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=True),
        sa.Column("is_mock", sa.Boolean(), nullable=False),
        sa.Column("h3_cell", sa.BigInteger(), nullable=False),
        sa.Column("held_at", store.types.Instant(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "ts", name=op.f("pk_held_pings")),
    )
    op.create_index(op.f("ix_held_pings_officer_id"), "held_pings", ["officer_id"], unique=False)
    op.create_table(
        "held_swipes",
        sa.Column("badge_id", sa.String(length=64), nullable=False),
        sa.Column("ts", store.types.Instant(), nullable=False),
        sa.Column("reader_id", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("held_at", store.types.Instant(), nullable=False),
        sa.PrimaryKeyConstraint("badge_id", "ts", "reader_id", name=op.f("pk_held_swipes")),
    )
    op.create_index(op.f("ix_held_swipes_officer_id"), "held_swipes", ["officer_id"], unique=False)
    op.create_table(
        "imports",
        sa.Column("import_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", store.types.Instant(), nullable=False),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("import_id", name=op.f("pk_imports")),
    )
    op.create_index(op.f("ix_imports_sha256"), "imports", ["sha256"], unique=False)
    op.create_table(
        "job_runs",
        sa.Column("run_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("started_at", store.types.Instant(), nullable=False),
        sa.Column("finished_at", store.types.Instant(), nullable=True),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "counts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("policy_version", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_job_runs")),
    )
    op.create_table(
        "masked_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "kind", name=op.f("pk_masked_counts")),
    )
    op.create_table(
        "officers",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("rank", sa.String(length=100), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("home_station_id", sa.String(length=64), nullable=True),
        sa.Column("office_based", sa.Boolean(), nullable=False),
        sa.Column("updated_at", store.types.Instant(), nullable=False),
        sa.PrimaryKeyConstraint("officer_id", name=op.f("pk_officers")),
    )
    op.create_index(op.f("ix_officers_unit"), "officers", ["unit"], unique=False)
    op.create_table(
        "overtime_claims",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("start_at", store.types.Instant(), nullable=False),
        sa.Column("end_at", store.types.Instant(), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("submitted_at", store.types.Instant(), nullable=True),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_overtime_claims")),
    )
    op.create_index(
        "ix_overtime_officer_start", "overtime_claims", ["officer_id", "start_at"], unique=False
    )
    op.create_table(
        "pings",
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("ts", store.types.Instant(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=True),
        sa.Column("is_mock", sa.Boolean(), nullable=False),
        sa.Column("h3_cell", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ts", "device_id", name=op.f("pk_pings")),
        postgresql_partition_by="RANGE (ts)",
        sqlite_with_rowid=False,
    )
    op.create_index("ix_pings_officer_ts", "pings", ["officer_id", "ts"], unique=False)
    op.create_table(
        "recompute_marks",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("marked_at", store.types.Instant(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("officer_id", "day", name=op.f("pk_recompute_marks")),
    )
    op.create_table(
        "shift_versions",
        sa.Column("shift_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("start_at", store.types.Instant(), nullable=False),
        sa.Column("end_at", store.types.Instant(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("declared_location", sa.String(length=16), nullable=True),
        sa.Column("created_at", store.types.Instant(), nullable=True),
        sa.Column("updated_at", store.types.Instant(), nullable=True),
        sa.Column("recorded_at", store.types.Instant(), nullable=False),
        sa.PrimaryKeyConstraint("shift_id", "version", name=op.f("pk_shift_versions")),
    )
    op.create_index(
        op.f("ix_shift_versions_officer_id"), "shift_versions", ["officer_id"], unique=False
    )
    op.create_table(
        "shifts",
        sa.Column("shift_id", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("start_at", store.types.Instant(), nullable=False),
        sa.Column("end_at", store.types.Instant(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=True),
        sa.Column("declared_location", sa.String(length=16), nullable=True),
        sa.Column("created_at", store.types.Instant(), nullable=True),
        sa.Column("updated_at", store.types.Instant(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recorded_at", store.types.Instant(), nullable=False),
        sa.PrimaryKeyConstraint("shift_id", name=op.f("pk_shifts")),
    )
    op.create_index("ix_shifts_officer_start", "shifts", ["officer_id", "start_at"], unique=False)
    if is_pg:
        op.create_geospatial_table(
            "stations",
            sa.Column("station_id", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("borough", sa.String(length=100), nullable=True),
            sa.Column(
                "geom",
                Geometry(
                    geometry_type="MULTIPOLYGON",
                    srid=4326,
                    dimension=2,
                    spatial_index=False,
                    from_text="ST_GeomFromEWKT",
                    name="geometry",
                    nullable=False,
                ),
                nullable=False,
            ),
            sa.Column("updated_at", store.types.Instant(), nullable=False),
            sa.PrimaryKeyConstraint("station_id", name=op.f("pk_stations")),
        )
        op.create_geospatial_index(
            "ix_stations_geom",
            "stations",
            ["geom"],
            unique=False,
            postgresql_using="gist",
            postgresql_ops={},
        )
    else:
        op.create_table(
            "stations",
            sa.Column("station_id", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("borough", sa.String(length=100), nullable=True),
            sa.Column("geom", sa.Text(), nullable=False),
            sa.Column("updated_at", store.types.Instant(), nullable=False),
            sa.PrimaryKeyConstraint("station_id", name=op.f("pk_stations")),
        )
    op.create_table(
        "swipes",
        sa.Column("badge_id", sa.String(length=64), nullable=False),
        sa.Column("ts", store.types.Instant(), nullable=False),
        sa.Column("reader_id", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("station_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("badge_id", "ts", "reader_id", name=op.f("pk_swipes")),
    )
    op.create_index("ix_swipes_officer_ts", "swipes", ["officer_id", "ts"], unique=False)
    op.create_index("ix_swipes_ts", "swipes", ["ts"], unique=False)
    op.create_table(
        "daily_results",
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("expected_office", sa.Boolean(), nullable=False),
        sa.Column("declared_location", sa.String(length=16), nullable=True),
        sa.Column("verified_presence_minutes", sa.Float(), nullable=False),
        sa.Column("verified_office_day", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.String(length=32), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("computed_at", store.types.Instant(), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["job_runs.run_id"], name=op.f("fk_daily_results_run_id_job_runs")
        ),
        sa.PrimaryKeyConstraint("officer_id", "day", name=op.f("pk_daily_results")),
    )
    op.create_index(op.f("ix_daily_results_day"), "daily_results", ["day"], unique=False)
    op.create_table(
        "flag_reviews",
        sa.Column("review_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flag_id", sa.String(length=36), nullable=False),
        sa.Column("at", store.types.Instant(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.flag_id"], name=op.f("fk_flag_reviews_flag_id_flags")
        ),
        sa.PrimaryKeyConstraint("review_id", name=op.f("pk_flag_reviews")),
    )
    op.create_index(op.f("ix_flag_reviews_flag_id"), "flag_reviews", ["flag_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_flag_reviews_flag_id"), table_name="flag_reviews")
    op.drop_table("flag_reviews")
    op.drop_index(op.f("ix_daily_results_day"), table_name="daily_results")
    op.drop_table("daily_results")
    op.drop_index("ix_swipes_ts", table_name="swipes")
    op.drop_index("ix_swipes_officer_ts", table_name="swipes")
    op.drop_table("swipes")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_geospatial_index(
            "ix_stations_geom", table_name="stations", postgresql_using="gist", column_name="geom"
        )
        op.drop_geospatial_table("stations")
    else:
        op.drop_table("stations")
    op.drop_index("ix_shifts_officer_start", table_name="shifts")
    op.drop_table("shifts")
    op.drop_index(op.f("ix_shift_versions_officer_id"), table_name="shift_versions")
    op.drop_table("shift_versions")
    op.drop_table("recompute_marks")
    op.drop_index("ix_pings_officer_ts", table_name="pings")
    op.drop_table("pings")
    op.drop_index("ix_overtime_officer_start", table_name="overtime_claims")
    op.drop_table("overtime_claims")
    op.drop_index(op.f("ix_officers_unit"), table_name="officers")
    op.drop_table("officers")
    op.drop_table("masked_counts")
    op.drop_table("job_runs")
    op.drop_index(op.f("ix_imports_sha256"), table_name="imports")
    op.drop_table("imports")
    op.drop_index(op.f("ix_held_swipes_officer_id"), table_name="held_swipes")
    op.drop_table("held_swipes")
    op.drop_index(op.f("ix_held_pings_officer_id"), table_name="held_pings")
    op.drop_table("held_pings")
    op.drop_index("ix_flags_status_code", table_name="flags")
    op.drop_index("ix_flags_officer_day", table_name="flags")
    op.drop_table("flags")
    op.drop_index(op.f("ix_device_assignments_officer_id"), table_name="device_assignments")
    op.drop_table("device_assignments")
    op.drop_index(op.f("ix_badge_assignments_officer_id"), table_name="badge_assignments")
    op.drop_table("badge_assignments")
    op.drop_index(op.f("ix_audit_log_officer_id"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
