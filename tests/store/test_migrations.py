"""The migrations build the schema the models describe, on both backends, and go down cleanly."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import Engine

from store.migrate import alembic_config, current_revision, upgrade
from store.models import Base


def test_head_matches_models(engine: Engine, backend: str) -> None:
    # On PostGIS the fences' GiST index exists only there (declared for it alone); the pings'
    # (officer_id, ts) index is declared for SQLite alone, PostgreSQL has one per day partition.
    dialect_only = {"ix_stations_geom", "ix_pings_officer_ts", "ix_shifts_long"}
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_object": alembic_helpers.include_object,
                "target_metadata": Base.metadata,
                "compare_type": False,
            },
        )
        diff = [
            d
            for d in compare_metadata(ctx, Base.metadata)
            if not (d[0] in ("add_index", "remove_index") and d[1].name in dialect_only)
        ]
    assert diff == []


def test_downgrade_then_upgrade(engine: Engine, db_url: str) -> None:
    with engine.begin() as conn:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert current_revision(engine) is None
    assert "pings" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == ScriptDirectory.from_config(cfg).get_current_head()


def test_postgis_extension_and_fence_index(engine: Engine, backend: str) -> None:
    with engine.connect() as conn:
        if backend == "postgis":
            version = conn.execute(sa.text("SELECT postgis_lib_version()")).scalar_one()
            assert version.split(".")[0] == "3"
            method = conn.execute(
                sa.text(
                    "SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam "
                    "WHERE c.relname = 'ix_stations_geom'"
                )
            ).scalar_one()
            assert method == "gist"
            strategy = conn.execute(
                sa.text(
                    "SELECT partstrat FROM pg_partitioned_table p "
                    "JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = 'pings'"
                )
            ).scalar_one()
            assert strategy == "r"
        else:
            names = {ix["name"] for ix in sa.inspect(conn).get_indexes("pings")}
            assert names == {"ix_pings_officer_ts"}
            assert sa.inspect(conn).get_pk_constraint("pings")["constrained_columns"] == [
                "ts",
                "device_id",
            ]


def test_reply_keys_keep_replies_stored_twice_before_them(engine: Engine, db_url: str) -> None:
    """0009 gives each reply its digest; a repeat stored earlier stays, outside the key."""
    with engine.begin() as conn:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    at = "2026-10-05 09:00:00+00:00"
    with engine.begin() as conn:
        for statement in ("Same.", "Same.", "Other."):
            conn.execute(
                sa.text(
                    "INSERT INTO day_contests (officer_id, day, at, actor, category, statement, "
                    "status) VALUES ('O1', '2026-10-05', :at, 'pc', 'other', :s, 'open')"
                ),
                {"at": at, "s": statement},
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT statement, statement_digest FROM day_contests ORDER BY contest_id")
        ).all()
    assert [(s, d is not None) for s, d in rows] == [
        ("Same.", True),
        ("Same.", False),
        ("Other.", True),
    ]
    assert rows[0][1] == hashlib.sha256(b"Same.").hexdigest()
