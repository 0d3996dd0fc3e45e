"""API test fixtures: an app on each test's own database, and a small seeded force."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api import signing
from tests.api.helpers import Api, running_app, seed_reference, seed_results


@pytest.fixture
def export_key_file(tmp_path: Path) -> Path:
    """A new Ed25519 export signing key in this test's directory."""
    path = tmp_path / "export-key.pem"
    signing.generate_key_file(path)
    return path


@pytest.fixture
def api(db_url: str, export_key_file: Path) -> Iterator[Api]:
    """A fresh app on this test's database: HS256 with SECRET, exports signed with a new key."""
    with running_app(db_url, export_key_file) as app:
        yield app


@pytest.fixture
def world(api: Api) -> Api:
    """``api`` with the reference data, roster and results seeded."""
    seed_reference(api)
    seed_results(api)
    return api
