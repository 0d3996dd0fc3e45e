"""Web app fixtures: an app with the development sign-in on each test's own database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import signing
from api.app import create_app
from rollcall.settings import Settings
from tests.api.helpers import SECRET, TZ, Api, TestClient, seed_reference, seed_results
from tests.clock import API_NOW, TestClock

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, role: str, sub: str = "web.user", officer_id: str = "") -> None:
    """Sign in through the development login page (the session cookie stays on the client)."""
    form = client.get("/app/login")
    assert form.status_code == 200, form.text
    r = client.post(
        "/app/login",
        data={"csrf_token": csrf_of(form.text), "role": role, "sub": sub, "officer_id": officer_id},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


@pytest.fixture
def web(db_url: str, tmp_path: Path) -> Iterator[Api]:
    """An app with --dev-login on this test's database, the small force seeded."""
    key = tmp_path / "export-key.pem"
    signing.generate_key_file(key)
    settings = Settings(database_url=db_url, jwt_secret=SECRET, timezone=TZ, export_key_file=key)
    app = create_app(settings, dev_login=True, clock=TestClock(API_NOW))
    with TestClient(app, raise_server_exceptions=False, base_url="http://testserver") as client:
        api = Api(client=client, factory=app.state.rollcall.factory)
        seed_reference(api)
        seed_results(api)
        yield api
