"""Shared fixtures: real databases on both backends, built through the migrations.

Every database test runs twice, on SQLite (the embedded default) and on PostgreSQL with PostGIS.
Without a reachable PostGIS the PostGIS runs skip locally but fail under CI=true.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rollcall import wallclock
from store.db import make_engine
from store.migrate import upgrade
from tests.clock import CLI_NOW, TestClock

PG_ADMIN_URL = os.environ.get(
    "ROLLCALL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgis")
FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"


def _pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def _admin_engine() -> Engine:
    return make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _postgis_problem() -> str | None:
    try:
        engine = _admin_engine()
        with engine.connect() as conn:
            available = conn.execute(
                sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
            ).first()
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
    if available is None:
        return "PostGIS extension is not installed on the PostgreSQL server"
    return None


def require_postgis() -> None:
    """Skip (locally) or fail (CI=true) when PostGIS is not available."""
    problem = _postgis_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostGIS tests must run in CI: {problem}")
    pytest.skip(problem)


@pytest.fixture(autouse=True)
def cli_clock(monkeypatch: pytest.MonkeyPatch) -> TestClock:
    """The command line's clock (rollcall.wallclock) starts at CLI_NOW in every test, so tests
    over dated fixtures do not depend on today's date."""
    clock = TestClock(CLI_NOW)
    monkeypatch.setattr(wallclock, "utc_now", clock)
    return clock


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostGIS database used as the template for each test's own database."""
    require_postgis()
    name = f"rollcall_tpl_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_pg_url(name), poolclass=sa.pool.NullPool)
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied for each test."""
    path = tmp_path_factory.mktemp("sqlite_tpl") / "template.db"
    engine = make_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: "sqlite" or "postgis"."""
    name: str = request.param
    if name == "postgis":
        request.node.add_marker(pytest.mark.postgis)
    return name


@contextmanager
def fresh_database(
    backend: str, request: pytest.FixtureRequest, sqlite_path: Path, pg_prefix: str
) -> Iterator[str]:
    """The URL of a fresh, migrated database of ``backend``, copied from its template: an SQLite
    file at ``sqlite_path``, or a PostgreSQL database named ``pg_prefix`` and a random suffix,
    dropped afterwards."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        sqlite_path.write_bytes(template.read_bytes())
        yield f"sqlite:///{sqlite_path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"{pg_prefix}{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield _pg_url(name)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of ``backend`` for this test alone (committed writes allowed)."""
    with fresh_database(backend, request, tmp_path / "rollcall.db", "rollcall_t_") as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on this test's own database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session joined to an outer transaction that is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        sess = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield sess
        finally:
            sess.close()
            outer.rollback()


@pytest.fixture
def sample_dir() -> Path:
    """The small fixed synthetic force shipped in fixtures/sample/."""
    return FIXTURES_DIR / "sample"
