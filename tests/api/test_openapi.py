"""The published OpenAPI matches the service: real responses of every endpoint validate against
their documented schema and status, every field is described, and /docs and /redoc load their
assets from the service itself."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest

from tests.api.helpers import DAY, Api
from tests.api.test_reads import _load_day

JSON_TYPES = ("application/json", "application/geo+json")


def _operation(doc: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def _check(doc: dict[str, Any], method: str, path: str, response: Any) -> str:
    """The response's status is documented for the route, and a JSON body validates against
    the schema documented for that status and media type."""
    template, operation = _operation(doc, method, path.split("?")[0])
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template}: {status} not documented"
    media = response.headers.get("content-type", "").split(";")[0]
    if media not in JSON_TYPES:
        return template
    content = operation["responses"][status].get("content", {})
    assert media in content, f"{method} {template} {status}: {media} not documented"
    schema = {**content[media]["schema"], "components": doc["components"]}
    jsonschema.validate(response.json(), schema, cls=jsonschema.Draft202012Validator)
    return template


def test_every_endpoint_answers_as_documented(world: Api) -> None:
    _load_day(world)
    api, doc = world, world.client.get("/openapi.json").json()
    h = api.headers
    period = {"from": DAY.isoformat(), "to": "2026-10-07"}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("GET", "/v1/export-keys", {}),
        ("GET", "/v1/compliance", {"params": period, "headers": h("hr")}),
        ("GET", "/v1/compliance", {"params": period}),
        ("GET", "/v1/compliance", {"params": period, "headers": h("investigator")}),
        ("GET", "/v1/compliance", {"params": {**period, "unit": "nope"}, "headers": h("hr")}),
        ("GET", "/v1/compliance", {"params": {"from": "x", "to": "y"}, "headers": h("hr")}),
        ("GET", "/v1/compliance/units", {"params": period, "headers": h("hr")}),
        (
            "GET",
            "/v1/compliance/units",
            {"params": {**period, "unit": "unit a"}, "headers": h("hr")},
        ),
        ("GET", "/v1/days", {"params": period, "headers": h("hr")}),
        ("GET", "/v1/days", {"params": period, "headers": {**h("hr"), "Accept": "image/png"}}),
        ("GET", "/v1/stations", {"headers": h("officer", "O1")}),
        ("GET", "/v1/officers/O1/attendance", {"params": period, "headers": h("hr")}),
        ("GET", "/v1/officers/NOPE/attendance", {"params": period, "headers": h("hr")}),
        (
            "GET",
            "/v1/officers/O1/attendance",
            {"params": {**period, "case_ref": "C-1"}, "headers": h("investigator")},
        ),
        (
            "GET",
            "/v1/officers/O1/timeline",
            {"params": {**period, "case_ref": "C-1"}, "headers": h("investigator")},
        ),
        (
            "GET",
            "/v1/officers/O1/timeline",
            {
                "params": {**period, "case_ref": "C-1"},
                "headers": {**h("investigator"), "Accept": "application/geo+json"},
            },
        ),
        ("GET", "/v1/officers/O1/timeline", {"params": period, "headers": h("investigator")}),
        (
            "GET",
            "/v1/officers/O1/timeline/export",
            {"params": {**period, "case_ref": "C-1"}, "headers": h("investigator")},
        ),
        ("GET", "/v1/flags", {"params": {"case_ref": "C-1"}, "headers": h("investigator")}),
        ("GET", "/v1/flags", {"headers": h("investigator")}),
        (
            "GET",
            "/v1/flags",
            {"params": {"after": "garbage", "case_ref": "C-1"}, "headers": h("investigator")},
        ),
        (
            "GET",
            "/v1/flags/f-mock-0001",
            {"params": {"case_ref": "C-1"}, "headers": h("investigator")},
        ),
        ("GET", "/v1/flags/f-mock-0001", {"headers": h("officer", "O1")}),
        ("GET", "/v1/flags/f-none", {"params": {"case_ref": "C-1"}, "headers": h("investigator")}),
        (
            "POST",
            "/v1/flags/f-mock-0001/responses",
            {"json": {"category": "other", "statement": "s"}, "headers": h("officer", "O1")},
        ),
        (
            "POST",
            "/v1/officers/O1/contests",
            {
                "json": {"date": "2026-10-05", "category": "other_station", "statement": "s"},
                "headers": h("officer", "O1"),
            },
        ),
        (
            "POST",
            "/v1/officers/O1/contests",
            {
                "json": {"date": "2020-01-01", "category": "other_station", "statement": "s"},
                "headers": h("officer", "O1"),
            },
        ),
        ("GET", "/v1/contests", {"headers": h("hr")}),
        ("GET", "/v1/contests/1", {"headers": h("hr")}),
        ("GET", "/v1/contests/99", {"headers": h("hr")}),
        (
            "PATCH",
            "/v1/contests/1",
            {"json": {"outcome": "upheld", "reason": "r"}, "headers": h("hr")},
        ),
        (
            "PATCH",
            "/v1/contests/1",
            {"json": {"outcome": "upheld", "reason": "r"}, "headers": h("hr")},
        ),
        ("POST", "/v1/cases/C-1/close", {"headers": h("investigator")}),
        ("GET", "/v1/officers/O1/access-log", {"headers": h("officer", "O1")}),
        ("GET", "/v1/officers/NOPE/access-log", {"headers": h("auditor")}),
        ("GET", "/v1/officers/O1/subject-access", {"headers": h("officer", "O1")}),
        ("GET", "/v1/officers/O1/subject-access", {"headers": h("hr")}),
        ("GET", "/v1/fairness", {"params": period, "headers": h("auditor")}),
        ("GET", "/v1/flags", {"headers": h("officer", "O1")}),
        (
            "PATCH",
            "/v1/flags/f-mock-0001",
            {
                "json": {"status": "under_review", "note": "n", "case_ref": "C-1"},
                "headers": h("investigator"),
            },
        ),
        (
            "PATCH",
            "/v1/flags/f-none",
            {
                "json": {"status": "under_review", "note": "n", "case_ref": "C-1"},
                "headers": h("investigator"),
            },
        ),
        (
            "PATCH",
            "/v1/flags/f-mock-0001",
            {
                "json": {
                    "status": "dismissed",
                    "note": "n",
                    "expected_status": "open",
                    "case_ref": "C-1",
                },
                "headers": h("investigator"),
            },
        ),
        ("GET", "/v1/audit", {"headers": h("auditor")}),
        (
            "POST",
            "/v1/pings",
            {"json": {"pings": [api.ping("bad", (0, 0))]}, "headers": h("ingest")},
        ),
        ("POST", "/v1/swipes", {"json": {"swipes": []}, "headers": h("ingest")}),
        ("POST", "/v1/visits", {"json": {"visits": []}, "headers": h("ingest")}),
        ("PUT", "/v1/roster", {"json": {"shifts": []}, "headers": h("admin")}),
        ("PUT", "/v1/stations/ST9", {"json": {"type": "Feature"}, "headers": h("admin")}),
    ]
    seen: set[tuple[str, str]] = set()
    for method, path, kwargs in calls:
        response = api.client.request(method, path, **kwargs)
        seen.add((method, _check(doc, method, path, response)))
    documented = {
        (method.upper(), template)
        for template, item in doc["paths"].items()
        for method in item
        if not template.startswith("/app")
    }
    missing = documented - seen - {("GET", "/metrics")}
    assert not missing, f"endpoints without a checked call: {sorted(missing)}"


def _undescribed(doc: dict[str, Any]) -> list[str]:
    found = []
    for name, schema in doc["components"]["schemas"].items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        for field, prop in schema.get("properties", {}).items():
            if not prop.get("description"):
                found.append(f"{name}.{field}")
    for template, item in doc["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if not parameter.get("description") and parameter["in"] != "header":
                    found.append(f"{method.upper()} {template} ?{parameter['name']}")
    return found


def test_every_field_and_parameter_is_described(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert _undescribed(doc) == []


def test_docs_load_their_assets_from_the_service(api: Api) -> None:
    for page, assets in (
        ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
        ("/redoc", ("redoc.standalone.js",)),
    ):
        r = api.client.get(page)
        assert r.status_code == 200
        urls = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert urls
        assert all(u.startswith("/") for u in urls), urls
        assert "fonts.googleapis" not in r.text
        for asset in assets:
            url = next(u for u in urls if u.endswith(asset))
            fetched = api.client.get(url)
            assert fetched.status_code == 200, url
            assert len(fetched.content) > 10_000


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_are_not_in_the_schema(api: Api, path: str) -> None:
    assert path not in api.client.get("/openapi.json").json()["paths"]
