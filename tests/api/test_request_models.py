"""The ingest request models are the records' imported fields: the same names, the required ones
required, allowed values as enums; the published examples validate against them."""

from __future__ import annotations

from typing import Any, get_args

import jsonschema
import pytest

from api.app import create_app
from api.routes.flags import StatusFilter
from api.routes.ingest import PING_EXAMPLE, SHIFT_EXAMPLE, SWIPE_EXAMPLE, VISIT_EXAMPLE
from rollcall.settings import Settings
from rules.records import PING, SHIFT, SWIPE, VISIT, FlagStatus, Record
from tests.clock import API_NOW, TestClock

MODELS = [
    ("PingIn", "PingBatch", PING, PING_EXAMPLE),
    ("SwipeIn", "SwipeBatch", SWIPE, SWIPE_EXAMPLE),
    ("VisitIn", "VisitBatch", VISIT, VISIT_EXAMPLE),
    ("ShiftIn", "ShiftBatch", SHIFT, SHIFT_EXAMPLE),
]


@pytest.fixture(scope="module")
def components() -> dict[str, Any]:
    app = create_app(
        Settings(database_url="sqlite:///unused.db", jwt_secret="s" * 40),
        clock=TestClock(API_NOW),
    )
    schemas: dict[str, Any] = app.openapi()["components"]["schemas"]
    return schemas


@pytest.mark.parametrize(("item", "batch", "record", "example"), MODELS)
def test_request_models_follow_the_records(
    components: dict[str, Any], item: str, batch: str, record: Record, example: dict[str, Any]
) -> None:
    schema = components[item]
    assert list(schema["properties"]) == [f.column for f in record.imported]
    assert schema.get("required", []) == [f.column for f in record.imported if f.required]
    for f in record.imported:
        prop = schema["properties"][f.column]
        assert prop["description"] == f.description
        refs = [p["$ref"] for p in [prop, *prop.get("anyOf", [])] if "$ref" in p]
        if f.values is None:
            assert not refs, f.column
            continue
        assert refs == [f"#/components/schemas/{f.values.__name__}"]
        assert components[f.values.__name__]["enum"] == list(f.allowed)
    body = {**components[batch], "components": {"schemas": components}}
    jsonschema.validate(example, body, cls=jsonschema.Draft202012Validator)


def test_an_unknown_source_is_outside_the_documented_enum(components: dict[str, Any]) -> None:
    body = {**components["PingBatch"], "components": {"schemas": components}}
    item = {**PING_EXAMPLE["pings"][0], "source": "satellite"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"pings": [item]}, body, cls=jsonschema.Draft202012Validator)


def test_the_flag_status_filter_is_the_flag_statuses_and_withdrawn() -> None:
    assert get_args(StatusFilter) == (*(s.value for s in FlagStatus), "withdrawn")
