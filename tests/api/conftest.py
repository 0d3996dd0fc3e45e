"""API test fixtures: an app on each test's own database, and a small seeded force."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api import signing
from api.app import create_app
from rollcall.settings import Settings
from tests.api.helpers import SECRET, TZ, Api, TestClient, seed_reference, seed_results
from tests.clock import API_NOW, TestClock


@pytest.fixture
def export_key_file(tmp_path: Path) -> Path:
    """A new Ed25519 export signing key in this test's directory."""
    path = tmp_path / "export-key.pem"
    signing.generate_key_file(path)
    return path


@pytest.fixture
def api(db_url: str, export_key_file: Path) -> Iterator[Api]:
    """A fresh app on this test's database: HS256 with SECRET, exports signed with a new key."""
    settings = Settings(
        database_url=db_url, jwt_secret=SECRET, timezone=TZ, export_key_file=export_key_file
    )
    app = create_app(settings, clock=TestClock(API_NOW))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client=client, factory=app.state.rollcall.factory)


@pytest.fixture
def world(api: Api) -> Api:
    """``api`` with the reference data, roster and results seeded."""
    seed_reference(api)
    seed_results(api)
    return api
