"""A small synthetic force generated once per session and imported into each test's database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from fixtures.synth import Force, generate_force
from jobs.imports import import_directory
from rules.policy import Policy, load_policy
from store.db import session_factory

TZ = "Europe/London"
START = date(2026, 10, 24)  # spans the 25-hour day 2026-10-25
DAYS = 3
IMPORTED_AT = datetime(2026, 10, 27, 6, 0, tzinfo=UTC)
RUN_AT = datetime(2026, 10, 27, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_force(tmp_path_factory: pytest.TempPathFactory) -> tuple[Force, Path]:
    """20 officers over 3 days with planted findings, written as import files."""
    force = generate_force(3, 20, START, DAYS, tz=TZ)
    out = tmp_path_factory.mktemp("force")
    force.write(out)
    return force, out


@pytest.fixture
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def factory(
    engine: Engine, small_force: tuple[Force, Path], policy: Policy
) -> sessionmaker[Session]:
    """Sessions on a fresh database holding the small force."""
    made = session_factory(engine)
    import_directory(made, small_force[1], tz=TZ, policy=policy, now=IMPORTED_AT)
    return made
