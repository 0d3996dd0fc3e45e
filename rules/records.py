"""The records of CONTRACT §2, each declared once, and the vocabularies their fields take.

A record's fields give name, Polars type, whether the value may be missing, the allowed values
and what the field means. The import validator (intake.validate), the Polars schemas of rules and
store (rules.schemas, store.load, store.dayload), the database columns (store.models) and the
API's request models (api.schemas) are derived from them.

``h3_cell`` is declared as H3 indexes are, unsigned 64-bit (H3_CELL); the database has no
unsigned 64-bit integer, so store converts it at its boundary (store.types.stored_dtype).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from geo.errors_model import LocationSource
from rules.clock import INSTANT

__all__ = [
    "BADGE",
    "CLAIM",
    "DEVICE",
    "OFFICER",
    "PING",
    "RECORDS",
    "SHIFT",
    "STATION",
    "SWIPE",
    "VISIT",
    "AdjustmentEffect",
    "ContestStatus",
    "DayEvidence",
    "DeclaredLocation",
    "DevicePlatform",
    "Field",
    "FlagStatus",
    "LocationSource",
    "Record",
    "ReplyCategory",
    "ReviewKind",
    "ShiftKind",
    "SwipeDirection",
]


class ShiftKind(StrEnum):
    """A rostered shift's kind: duty, overtime and training are on duty (rules.masking)."""

    DUTY = "duty"
    OVERTIME = "overtime"
    TRAINING = "training"
    LEAVE = "leave"
    SICK = "sick"
    REST = "rest"


class DeclaredLocation(StrEnum):
    """Where the roster says an on-duty shift is worked."""

    OFFICE = "office"
    REMOTE = "remote"
    FIELD = "field"


class SwipeDirection(StrEnum):
    """Which way a door reader was passed."""

    IN = "in"
    OUT = "out"
    UNKNOWN = "unknown"


class DevicePlatform(StrEnum):
    """A device's operating system."""

    ANDROID = "android"
    IOS = "ios"
    OTHER = "other"


class FlagStatus(StrEnum):
    """A flag's review status."""

    OPEN = "open"
    UNDER_REVIEW = "under_review"
    DISMISSED = "dismissed"
    SUBSTANTIATED = "substantiated"


class ReviewKind(StrEnum):
    """What a recorded review of a flag was: a change by one reviewer, or a step of two-person
    substantiation (a proposal awaiting another investigator, the confirmation)."""

    CHANGE = "change"
    PROPOSAL = "proposal"
    CONFIRMATION = "confirmation"


class ReplyCategory(StrEnum):
    """What an officer says explains a flag, or what is wrong with a day they contest."""

    OTHER_STATION = "other_station"
    DEVICE_PROBLEM = "device_problem"
    ROSTER_ERROR = "roster_error"
    LEAVE_NOT_RECORDED = "leave_not_recorded"
    OTHER = "other"


class ContestStatus(StrEnum):
    """A day contest: open until it is answered upheld or not_upheld."""

    OPEN = "open"
    UPHELD = "upheld"
    NOT_UPHELD = "not_upheld"


class AdjustmentEffect(StrEnum):
    """What an upheld contest changes on its day: it counts as a verified office day, or it
    leaves the expected office days."""

    VERIFIED_OFFICE_DAY = "verified_office_day"
    NOT_EXPECTED = "not_expected"


class DayEvidence(StrEnum):
    """Whether a day had enough evidence to be assessed (CONTRACT §6)."""

    ADEQUATE = "adequate"
    INSUFFICIENT = "insufficient_evidence"


TEXT = pl.Utf8()
FLOAT = pl.Float64()
BOOL = pl.Boolean()
COUNT = pl.Int64()
# An H3 index (geo.cells.STORE_RESOLUTION), unsigned as h3 gives it.
H3_CELL = pl.UInt64()


@dataclass(frozen=True)
class Field:
    """One field of a record.

    ``nullable``: the value may be missing where the record is received (file or API); ``default``
    is what an empty value becomes on import (such a field is optional there but never missing
    once stored). ``file`` names the column in the import file when it differs from ``name``;
    ``imported`` is false for fields set at intake (an event's officer, its H3 cell).
    """

    name: str
    dtype: pl.DataType
    nullable: bool = False
    values: type[StrEnum] | None = None
    description: str = ""
    example: object = None
    file: str | None = None
    imported: bool = True
    default: object = None
    max_len: int = 64  # characters of a text field, as the column stores (ids are String(64))

    @property
    def column(self) -> str:
        """The field's column name in the import file."""
        return self.file or self.name

    @property
    def allowed(self) -> tuple[str, ...]:
        """The allowed values, in declaration order (empty: any value of the type)."""
        return tuple(v.value for v in self.values) if self.values else ()

    @property
    def required(self) -> bool:
        """Whether an import must give a value."""
        return self.imported and not self.nullable and self.default is None


@dataclass(frozen=True)
class Record:
    """A record of CONTRACT §2: its fields (in the import file's order) and its natural key."""

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")

    @property
    def imported(self) -> tuple[Field, ...]:
        """The fields an import file or API item gives."""
        return tuple(f for f in self.fields if f.imported)

    def polars(self, names: Iterable[str] | None = None) -> dict[str, pl.DataType]:
        """Column name -> Polars type of ``names`` in their order (default: every field)."""
        wanted = [f.name for f in self.fields] if names is None else list(names)
        return {name: self[name].dtype for name in wanted}


def _id(name: str, description: str, example: str) -> Field:
    return Field(name, TEXT, description=description, example=example)


_DEVICE_ID = _id("device_id", "The device (devices.csv)", "D-1001")
_EVENT_OFFICER = Field(
    "officer_id", TEXT, description="The device's or badge's officer at the time", imported=False
)
_LOCAL = "no offset: force's local time"

OFFICER = Record(
    "officers",
    (
        _id("officer_id", "The officer's id", "O-0001"),
        Field("display_name", TEXT, nullable=True, description="Name", max_len=200),
        Field("rank", TEXT, nullable=True, description="Rank", example="PC", max_len=100),
        Field("unit", TEXT, nullable=True, description="Unit", example="CID", max_len=100),
        Field("home_station_id", TEXT, nullable=True, description="The base station"),
        Field("office_based", BOOL, description="Subject to the hybrid-working rule"),
        Field("account_id", TEXT, nullable=True, description="The officer's sign-in account"),
    ),
    ("officer_id",),
)

DEVICE = Record(
    "devices",
    (
        _DEVICE_ID,
        _id("officer_id", "The officer it belongs to", "O-0001"),
        Field("valid_from", INSTANT, description="From when (ISO 8601)"),
        Field("valid_to", INSTANT, nullable=True, description="Until when (empty: still)"),
        Field(
            "platform",
            TEXT,
            nullable=True,
            values=DevicePlatform,
            description="android, ios or other",
        ),
    ),
    ("device_id", "valid_from"),
)

BADGE = Record(
    "badges",
    (
        _id("badge_id", "The badge (badges.csv)", "B-2001"),
        _id("officer_id", "The officer it belongs to", "O-0001"),
        Field("valid_from", INSTANT, description="From when (ISO 8601)"),
        Field("valid_to", INSTANT, nullable=True, description="Until when (empty: still)"),
    ),
    ("badge_id", "valid_from"),
)

SHIFT = Record(
    "roster",
    (
        _id("shift_id", "The shift's id (a later one replaces it: a roster edit)", "S123"),
        _id("officer_id", "The officer", "O-0001"),
        Field(
            "start_at",
            INSTANT,
            description="Start (ISO 8601)",
            example="2026-10-05T08:00:00+01:00",
            file="start",
        ),
        Field(
            "end_at",
            INSTANT,
            description="End (ISO 8601), after start",
            example="2026-10-05T16:00:00+01:00",
            file="end",
        ),
        Field(
            "kind",
            TEXT,
            values=ShiftKind,
            description="duty, overtime, training (on duty), leave, sick, rest",
            example="duty",
        ),
        Field(
            "station_id",
            TEXT,
            nullable=True,
            description="The station of an office shift",
            example="ST-01",
        ),
        Field(
            "declared_location",
            TEXT,
            nullable=True,
            values=DeclaredLocation,
            description="office, remote or field (on-duty shifts)",
            example="office",
        ),
        Field(
            "created_at",
            INSTANT,
            nullable=True,
            description="When the roster system created it",
            example="2026-09-20T10:00:00+01:00",
        ),
        Field(
            "updated_at",
            INSTANT,
            nullable=True,
            description="When the roster system last changed it",
        ),
        Field(
            "edited_by",
            TEXT,
            nullable=True,
            description="The rostering account that created or changed this version.",
        ),
        Field("version", COUNT, description="1, 2, ... per shift_id, as received", imported=False),
        Field("recorded_at", INSTANT, description="When this version was stored", imported=False),
    ),
    ("shift_id",),
)

CLAIM = Record(
    "overtime",
    (
        _id("claim_id", "The claim's id", "C-1"),
        _id("officer_id", "The officer", "O-0001"),
        Field("start_at", INSTANT, description="Start (ISO 8601)", file="start"),
        Field("end_at", INSTANT, description="End (ISO 8601), after start", file="end"),
        Field("station_id", TEXT, nullable=True, description="Where the overtime was worked"),
        Field("submitted_at", INSTANT, nullable=True, description="When it was claimed"),
        Field("approved_by", TEXT, nullable=True, description="Who approved it"),
        Field("approved_at", INSTANT, nullable=True, description="When it was approved"),
    ),
    ("claim_id",),
)

PING = Record(
    "pings",
    (
        _DEVICE_ID,
        Field(
            "ts",
            INSTANT,
            description=f"When the fix was taken (ISO 8601; {_LOCAL})",
            example="2026-10-05T09:14:03+01:00",
        ),
        _EVENT_OFFICER,
        Field("lat", FLOAT, description="Latitude, WGS84 degrees", example=51.5007),
        Field("lon", FLOAT, description="Longitude, WGS84 degrees", example=-0.1246),
        Field(
            "accuracy_m",
            FLOAT,
            nullable=True,
            description="68% error radius, metres (> 0; empty: unknown)",
            example=12.0,
        ),
        Field(
            "source",
            TEXT,
            nullable=True,
            values=LocationSource,
            description="gps, wifi, cell or fused",
            example="gps",
        ),
        Field(
            "is_mock",
            BOOL,
            description="The device says the fix was simulated",
            example=False,
            default=False,
        ),
        Field("h3_cell", H3_CELL, description="The fix's H3 cell", imported=False),
    ),
    ("device_id", "ts"),
)

SWIPE = Record(
    "swipes",
    (
        _id("badge_id", "The badge (badges.csv)", "B-2001"),
        Field("ts", INSTANT, description="When (ISO 8601)", example="2026-10-05T08:58:41+01:00"),
        _id("station_id", "The station of the door", "ST-01"),
        Field(
            "reader_id",
            TEXT,
            description="The door reader",
            example="R-01-A",
            default="",
        ),
        Field(
            "direction",
            TEXT,
            values=SwipeDirection,
            description="in, out or unknown (empty: unknown)",
            example="in",
            default=SwipeDirection.UNKNOWN.value,
        ),
        Field(
            "granted",
            BOOL,
            description="Whether the door opened (empty: true)",
            example=True,
            default=True,
        ),
        _EVENT_OFFICER,
    ),
    ("badge_id", "ts", "reader_id"),
)

VISIT = Record(
    "visits",
    (
        _DEVICE_ID,
        Field(
            "arrived_at",
            INSTANT,
            description=f"When the device arrived (ISO 8601; {_LOCAL})",
            example="2026-10-05T07:52:00+01:00",
        ),
        Field(
            "departed_at",
            INSTANT,
            nullable=True,
            description="When it left, after arrived_at (empty: still there)",
            example="2026-10-05T16:04:00+01:00",
        ),
        Field("lat", FLOAT, description="Latitude of the place, WGS84 degrees", example=51.5007),
        Field("lon", FLOAT, description="Longitude of the place, WGS84 degrees", example=-0.1246),
        Field(
            "accuracy_m",
            FLOAT,
            nullable=True,
            description="Radius of the place, metres (> 0; empty: unknown)",
            example=40.0,
        ),
        _EVENT_OFFICER,
    ),
    ("device_id", "arrived_at"),
)

STATION = Record(
    "stations",
    (
        _id("station_id", "The station's id", "ST-01"),
        Field("name", TEXT, description="The station's name", example="Charing Cross", max_len=200),
        Field(
            "borough",
            TEXT,
            nullable=True,
            description="Its borough",
            example="Westminster",
            max_len=100,
        ),
        Field("lat", FLOAT, description="Latitude of the fence's centroid", imported=False),
        Field("lon", FLOAT, description="Longitude of the fence's centroid", imported=False),
        Field(
            "radius_m",
            FLOAT,
            nullable=True,
            description="Metres from (lat, lon) to the fence's farthest point",
            imported=False,
        ),
    ),
    ("station_id",),
)

# The records an import file or API batch holds, by import kind (CONTRACT §2).
RECORDS: dict[str, Record] = {
    r.name: r for r in (OFFICER, DEVICE, BADGE, SHIFT, PING, VISIT, SWIPE, CLAIM)
}
