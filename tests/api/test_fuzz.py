"""Property-based fuzzing of the published OpenAPI document (schemathesis): every operation, with
a token of every role and none, must never answer 5xx and must answer only with a status and a
body its schema documents. Bounded examples keep it within CI's time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from rollcall.settings import Settings
from tests.api.helpers import SECRET, TZ, Api
from tests.clock import API_NOW, TestClock

# Examples per operation and backend; ROLLCALL_FUZZ_EXAMPLES raises it for a longer local run.
EXAMPLES = int(os.environ.get("ROLLCALL_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CALLERS: dict[str, tuple[str, str | None]] = {
    "ingest": ("ingest", None),
    "admin": ("admin", None),
    "hr": ("hr", None),
    "investigator": ("investigator", None),
    "officer": ("officer", "O1"),
    "auditor": ("auditor", None),
}
# Figures of the run, printed at the end of the session (operations, requests, failures).
FIGURES: dict[str, Any] = {"operations": set(), "requests": 0, "failures": 0}


def _published_schema() -> Any:
    """The OpenAPI document as the service publishes it (building the app opens no connection)."""
    app = create_app(
        Settings(database_url="sqlite://", jwt_secret=SECRET, timezone=TZ), clock=TestClock(API_NOW)
    )
    return schemathesis.openapi.from_dict(app.openapi())


schema = _published_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_with_every_role(case: Any, world: Api) -> None:
    callers = [{}] + [world.headers(role, officer) for role, officer in CALLERS.values()]
    FIGURES["operations"].add(f"{case.method} {case.path}")
    for headers in callers:
        kwargs = case.as_transport_kwargs(headers=headers)
        response = world.client.request(
            kwargs["method"],
            kwargs["url"],
            params=kwargs.get("params"),
            headers=kwargs.get("headers"),
            content=kwargs.get("content"),
            json=kwargs.get("json"),
        )
        FIGURES["requests"] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except BaseException:
            FIGURES["failures"] += 1
            raise


@pytest.fixture(scope="session", autouse=True)
def _report_figures(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if FIGURES["requests"]:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        line = (
            f"fuzz: {len(FIGURES['operations'])} operations, {FIGURES['requests']} requests, "
            f"{FIGURES['failures']} failures"
        )
        if reporter is not None:
            reporter.write_line(line)
