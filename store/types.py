"""Column types that behave the same on PostgreSQL/PostGIS and on plain SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Dialect, Text
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.types import JSON, TypeDecorator, TypeEngine

from rules.records import H3_CELL

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def stored_dtype(dtype: pl.DataType) -> pl.DataType:
    """How a record's Polars type (rules.records) is stored: an H3 cell (H3_CELL, unsigned) as a
    signed 64-bit integer, every H3 index being below 2**63; any other type as it is."""
    return pl.Int64() if dtype == H3_CELL else dtype


def to_epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime. Raises ValueError on a naive one."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: every stored instant must be time-zone aware")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_epoch_us(value: int) -> datetime:
    """The aware UTC datetime of a microsecond epoch count."""
    from datetime import timedelta

    return _EPOCH + timedelta(microseconds=value)


class Instant(TypeDecorator[datetime]):
    """An aware instant: TIMESTAMPTZ on PostgreSQL, integer microseconds since the epoch on SQLite.

    Always returns aware UTC datetimes; refuses naive ones on the way in.
    """

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(BigInteger())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every stored instant must be time-zone aware")
        if dialect.name == "postgresql":
            return value.astimezone(UTC)
        return to_epoch_us(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return from_epoch_us(int(value))


# Station footprints: PostGIS geometry (GiST-indexed) on PostgreSQL, WKT text on SQLite.
FENCE = Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=False).with_variant(
    Text(), "sqlite"
)
# Structured documents (evidence, counts, parameters): JSONB on PostgreSQL, JSON text on SQLite.
DOCUMENT = JSON().with_variant(JSONB(), "postgresql")
