"""API test fixtures: an app on each test's own database, and a small seeded force."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.app import create_app
from rollcall.settings import Settings
from tests.api.helpers import SECRET, TZ, Api, TestClient, seed_reference, seed_results


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    """A fresh app (HS256 with SECRET) on this test's database."""
    settings = Settings(database_url=db_url, jwt_secret=SECRET, timezone=TZ)
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, factory=app.state.rollcall.factory)


@pytest.fixture
def world(api: Api) -> Api:
    """``api`` with the reference data, roster and results seeded."""
    seed_reference(api)
    seed_results(api)
    return api
