"""The ingest request models are the records' imported fields: the same names, the required ones
required, allowed values as enums; the published examples validate against them. Every other
field and parameter that takes a vocabulary is that vocabulary's enum in rules.records."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import jsonschema
import pytest

from api.app import create_app
from api.routes.flags import StatusFilter
from api.routes.ingest import PING_EXAMPLE, SHIFT_EXAMPLE, SWIPE_EXAMPLE, VISIT_EXAMPLE
from rollcall.settings import Settings
from rules.records import (
    PING,
    SHIFT,
    SWIPE,
    VISIT,
    AdjustmentEffect,
    ContestStatus,
    DayEvidence,
    DeclaredLocation,
    FlagStatus,
    Record,
    ReplyCategory,
    ReviewKind,
)
from tests.clock import API_NOW, TestClock

MODELS = [
    ("PingIn", "PingBatch", PING, PING_EXAMPLE),
    ("SwipeIn", "SwipeBatch", SWIPE, SWIPE_EXAMPLE),
    ("VisitIn", "VisitBatch", VISIT, VISIT_EXAMPLE),
    ("ShiftIn", "ShiftBatch", SHIFT, SHIFT_EXAMPLE),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(
        Settings(database_url="sqlite:///unused.db", jwt_secret="s" * 40),
        clock=TestClock(API_NOW),
    )
    return app.openapi()


@pytest.fixture(scope="module")
def components(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document["components"]["schemas"]
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


def _refs(schema: dict[str, Any]) -> list[str]:
    return [p["$ref"] for p in [schema, *schema.get("anyOf", [])] if "$ref" in p]


VOCABULARY_FIELDS = [
    ("DayRow", "declared_location", DeclaredLocation),
    ("DayRow", "evidence", DayEvidence),
    ("OfficerDayRow", "declared_location", DeclaredLocation),
    ("FlagOut", "status", FlagStatus),
    ("FlagPatch", "status", FlagStatus),
    ("FlagPatch", "expected_status", FlagStatus),
    ("ReviewOut", "from_status", FlagStatus),
    ("ReviewOut", "to_status", FlagStatus),
    ("ReviewOut", "kind", ReviewKind),
    ("ReviewEntry", "from_status", FlagStatus),
    ("ReviewEntry", "to_status", FlagStatus),
    ("ResponseIn", "category", ReplyCategory),
    ("ResponseOut", "category", ReplyCategory),
    ("ContestIn", "category", ReplyCategory),
    ("ContestOut", "category", ReplyCategory),
    ("ContestOut", "status", ContestStatus),
    ("ContestAnswerIn", "effect", AdjustmentEffect),
    ("AdjustmentOut", "effect", AdjustmentEffect),
]


@pytest.mark.parametrize(("model", "field", "vocabulary"), VOCABULARY_FIELDS)
def test_vocabulary_fields_are_the_records_enums(
    components: dict[str, Any], model: str, field: str, vocabulary: type[StrEnum]
) -> None:
    assert _refs(components[model]["properties"][field]) == [
        f"#/components/schemas/{vocabulary.__name__}"
    ]
    assert components[vocabulary.__name__]["enum"] == [v.value for v in vocabulary]


@pytest.mark.parametrize(
    ("path", "parameter", "values"),
    [
        ("/v1/flags", "status", [*(s.value for s in FlagStatus), "withdrawn"]),
        ("/v1/contests", "status", [s.value for s in ContestStatus]),
    ],
)
def test_status_filters_list_their_values_from_the_enums(
    document: dict[str, Any], path: str, parameter: str, values: list[str]
) -> None:
    (param,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == parameter]
    (ref,) = _refs(param["schema"])
    assert document["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"] == values


def test_the_flag_status_filter_is_the_flag_statuses_and_withdrawn() -> None:
    assert [s.value for s in StatusFilter] == [*(s.value for s in FlagStatus), "withdrawn"]
    assert StatusFilter("withdrawn") == "withdrawn"
