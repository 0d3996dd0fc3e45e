"""Schema migrations through Alembic: the same head on PostgreSQL/PostGIS and SQLite."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def migrations_dir() -> Path:
    """The Alembic scripts: packaged beside rollcall in a wheel, or the repository's alembic/."""
    import rollcall

    packaged = Path(rollcall.__file__).parent / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "alembic"


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Create or migrate the schema of ``engine``'s database to ``revision``, and build any
    (officer_id, ts) index of a ``pings`` partition that a bulk load cut off left unbuilt.
    Returns the partitions so indexed."""
    from sqlalchemy.orm import Session

    from store.load import build_officer_indexes, partitions_without_officer_index

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    if revision != "head":
        return []
    with Session(engine) as session, session.begin():
        missing = partitions_without_officer_index(session)
        build_officer_indexes(session, missing)
        return missing


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest migration of the installed scripts (read once per process)."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
