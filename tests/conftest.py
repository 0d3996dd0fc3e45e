"""Shared fixtures: real databases on both backends, built through the migrations.

Every database test runs twice, on SQLite (the embedded default) and on PostgreSQL with PostGIS.
Without a reachable PostGIS the PostGIS runs skip locally but fail under CI=true.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


def _drop_database(name: str) -> None:
    admin = _admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


class _Dropper:
    """Drops the tests' PostgreSQL databases on a thread of its own, all that have waited at once.

    DROP DATABASE makes PostgreSQL 15 take a checkpoint and wait for it: seconds on a busy
    machine. Drops issued together share a checkpoint (eight one after another took 34-40 s under
    load, eight at once 2-3 s), so each round drops whatever finished during the one before, and
    a test does not wait for its database to go."""

    MOST_AT_ONCE = 12  # connections a round may hold

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._waiting: list[str] = []
        self._closing = False
        self._thread: threading.Thread | None = None
        self._errors: list[BaseException] = []

    def drop(self, name: str) -> None:
        """Drop ``name`` with the next round."""
        with self._ready:
            self._waiting.append(name)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._rounds, name="drop-databases", daemon=True
                )
                self._thread.start()
            self._ready.notify()

    def _rounds(self) -> None:
        with ThreadPoolExecutor(self.MOST_AT_ONCE, thread_name_prefix="drop-database") as pool:
            while True:
                with self._ready:
                    while not self._waiting and not self._closing:
                        self._ready.wait()
                    if not self._waiting:
                        return
                    batch = self._waiting[: self.MOST_AT_ONCE]
                    del self._waiting[: self.MOST_AT_ONCE]
                for future in [pool.submit(_drop_database, name) for name in batch]:
                    if (exc := future.exception()) is not None:
                        self._errors.append(exc)

    def finish(self) -> None:
        """Drop what is left and wait; raise the first drop that failed."""
        with self._ready:
            self._closing = True
            self._ready.notify()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        self._closing = False
        errors, self._errors = self._errors, []
        if errors:
            raise errors[0]


_DROPPER = _Dropper()


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests (real servers, processes, clusters, browsers) run first, in their order: the
    workers take them in turn while the quick ones fill the gaps, and no worker is left finishing
    a long test alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


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
    try:
        _DROPPER.finish()
    finally:
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
    dropped afterwards (with the next round of drops)."""
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
    admin.dispose()
    yield _pg_url(name)
    _DROPPER.drop(name)


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
