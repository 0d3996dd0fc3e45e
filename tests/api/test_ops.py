"""Operations: health, readiness, metrics, request ids, the error shape, CORS off, OpenAPI."""

from __future__ import annotations

import logging

import pytest

from api.app import create_app
from rollcall.settings import Settings
from tests.api.helpers import Api, TestClient
from tests.clock import API_NOW, TestClock


def test_health_ready_and_metrics(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}
    api.client.get(
        "/v1/officers/O1/attendance",
        params={"from": "2026-10-01", "to": "2026-10-02"},
        headers=api.headers("hr"),
    )
    api.client.post(
        "/v1/pings", json={"pings": [{"device_id": "X"}]}, headers=api.headers("ingest")
    )
    text = api.client.get("/metrics").text
    assert 'route="/v1/officers/{officer_id}/attendance"' in text
    assert "rollcall_http_request_duration_seconds_bucket" in text
    assert 'rollcall_ingest_items_total{kind="pings",outcome="rejected"} 1.0' in text
    assert "O1" not in text


def test_readyz_when_the_database_is_gone() -> None:
    app = create_app(
        Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", jwt_secret="s" * 40),
        clock=TestClock(API_NOW),
    )
    with TestClient(app) as client:
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable"}


def test_request_id_and_error_shape(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="rollcall.api"):
        r = api.client.get("/v1/nothing-here", headers={"X-Request-ID": "req-123"})
    assert r.status_code == 404
    request_id = r.headers["x-request-id"]
    assert request_id != "req-123"  # the server's own id; the client's is kept apart
    assert r.headers["x-client-request-id"] == "req-123"
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {
        "error": {"code": "not_found", "message": "Not Found", "request_id": request_id}
    }
    line = next(rec for rec in caplog.records if getattr(rec, "request_id", None) == request_id)
    assert line.__dict__["status"] == 404
    assert line.__dict__["client_request_id"] == "req-123"
    evil = api.client.get("/healthz", headers={"X-Request-ID": "x" * 200})
    assert evil.headers["x-request-id"] != "x" * 200
    assert "x-client-request-id" not in evil.headers
    newline = api.client.get("/healthz", headers={"X-Request-ID": "abc def"})
    assert "x-client-request-id" not in newline.headers
    invalid = api.client.get(
        "/v1/compliance", params={"from": "nope", "to": "2026-01-01"}, headers=api.headers("hr")
    )
    assert invalid.status_code == 422
    assert "nope" not in invalid.text


def test_cors_is_off(api: Api) -> None:
    r = api.client.options(
        "/v1/flags",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers


def test_openapi_is_complete(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    expected = {
        "/v1/pings",
        "/v1/swipes",
        "/v1/roster",
        "/v1/stations/{station_id}",
        "/v1/compliance",
        "/v1/officers/{officer_id}/attendance",
        "/v1/officers/{officer_id}/timeline",
        "/v1/officers/{officer_id}/timeline/export",
        "/v1/flags",
        "/v1/flags/{flag_id}",
        "/v1/audit",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    assert expected <= set(doc["paths"])
    for path, item in doc["paths"].items():
        for method, op in item.items():
            ok = op["responses"]["200"]
            assert ok.get("content"), (method, path)
    schemas = doc["components"]["schemas"]
    assert {"PingBatch", "PingIn", "BatchResult", "ErrorBody", "Timeline"} <= set(schemas)
    body = doc["paths"]["/v1/pings"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/PingBatch"}
    assert body["example"]["pings"]


def test_logs_hold_no_coordinates_or_tokens(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    headers = api.headers("ingest")
    token = headers["Authorization"].split()[1]
    with caplog.at_level(logging.DEBUG):
        api.client.post(
            "/v1/pings",
            json={"pings": [api.ping("2026-10-05T09:00:00Z", (51.51234, -0.14321))]},
            headers=headers,
        )
        api.client.get("/v1/flags", headers={"Authorization": "Bearer " + token + "x"})
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "request" in text
    assert "51.51234" not in text
    assert "-0.14321" not in text
    assert token not in text


def test_metrics_labels_stay_bounded(api: Api) -> None:
    """Anonymous requests with invented methods and paths add no label values."""
    before = api.client.get("/metrics").text.count("rollcall_http_requests_total{")
    for i in range(50):
        api.client.request(f"BREW{i}", "/healthz")
        api.client.request(f"X{i}", f"/v1/made-up-{i}")
        api.client.get(f"/v1/officers/O{i}/attendance")
    text = api.client.get("/metrics").text
    assert "BREW" not in text
    assert "made-up" not in text
    assert 'method="other"' in text
    series = [
        line for line in text.splitlines() if line.startswith("rollcall_http_requests_total{")
    ]
    assert len(series) - before <= 6, series
