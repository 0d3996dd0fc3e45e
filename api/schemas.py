"""Request and response models of the HTTP API (they document it: every endpoint has one)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReviewStatus = Literal["open", "under_review", "dismissed", "substantiated"]


class ErrorDetail(BaseModel):
    """What went wrong, safe to show: never a database error's text."""

    code: str = Field(examples=["forbidden"])
    message: str = Field(examples=["role hr may not do this"])
    request_id: str | None = Field(examples=["6f1c2a9e0b4d4e5f8a7b6c5d4e3f2a1b"])
    details: Any | None = None


class ErrorBody(BaseModel):
    """The one error shape of every endpoint."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Malformed parameter",
        401: "No valid bearer token",
        403: "Role or officer not allowed",
        404: "Not found",
        413: "Body or batch too large",
        422: "Invalid content",
        503: "Database unavailable; nothing was stored",
    }.items()
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entries of the error statuses a route can give."""
    return {code: ERROR_RESPONSES[code] for code in codes}


# A read of people's data: bad parameter, token, role or officer, unknown officer, invalid query,
# database down.
READ_ERRORS = errors(400, 401, 403, 404, 422, 503)

# --- ingest -------------------------------------------------------------------------------------


class PingIn(BaseModel):
    """A device fix (CONTRACT §2 pings.csv). Values may be strings as in the file."""

    device_id: str = Field(examples=["D-1001"])
    ts: str = Field(examples=["2026-10-05T09:14:03+01:00"])
    lat: float | str = Field(examples=[51.5007])
    lon: float | str = Field(examples=[-0.1246])
    accuracy_m: float | str | None = Field(default=None, examples=[12.0])
    source: str | None = Field(default=None, examples=["gps"])
    is_mock: bool | str | None = Field(default=None, examples=[False])


class SwipeIn(BaseModel):
    """A door badge swipe (CONTRACT §2 swipes.csv)."""

    badge_id: str = Field(examples=["B-2001"])
    ts: str = Field(examples=["2026-10-05T08:58:41+01:00"])
    station_id: str = Field(examples=["ST-01"])
    reader_id: str | None = Field(default=None, examples=["R-01-A"])
    direction: str | None = Field(default=None, examples=["in"])
    granted: bool | str | None = Field(default=None, examples=[True])


class ShiftIn(BaseModel):
    """A rostered shift (CONTRACT §2 roster.csv); a later one with the same shift_id replaces it."""

    shift_id: str = Field(examples=["S123"])
    officer_id: str = Field(examples=["O-0001"])
    start: str = Field(examples=["2026-10-05T08:00:00+01:00"])
    end: str = Field(examples=["2026-10-05T16:00:00+01:00"])
    kind: str = Field(examples=["duty"])
    station_id: str | None = Field(default=None, examples=["ST-01"])
    declared_location: str | None = Field(default=None, examples=["office"])
    created_at: str | None = Field(default=None, examples=["2026-09-20T10:00:00+01:00"])
    updated_at: str | None = None


class PingBatch(BaseModel):
    """Up to 10,000 pings. Items are validated one by one: a bad item is rejected, not the batch."""

    pings: list[PingIn]


class SwipeBatch(BaseModel):
    """Up to 10,000 swipes."""

    swipes: list[SwipeIn]


class ShiftBatch(BaseModel):
    """Up to 10,000 shifts."""

    shifts: list[ShiftIn]


class ItemError(BaseModel):
    """One rejected item: its 0-based position in the batch, the field and why."""

    index: int = Field(examples=[3])
    field: str | None = Field(examples=["accuracy_m"])
    reason: str = Field(examples=["must be greater than 0"])


class BatchResult(BaseModel):
    """Counts per outcome. Masked (off-duty) items are counted and nothing else about them is said."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "accepted": 4990,
                    "duplicate": 3,
                    "masked": 4,
                    "held": 2,
                    "rejected": 1,
                    "errors": [{"index": 17, "field": "ts", "reason": "not an ISO 8601 timestamp"}],
                }
            ]
        }
    )

    accepted: int
    duplicate: int
    masked: int
    held: int
    rejected: int
    errors: list[ItemError]


class StationResult(BaseModel):
    """A stored station; ``changed`` is false when the same fence was already stored."""

    station_id: str = Field(examples=["ST-01"])
    changed: bool


# --- reads --------------------------------------------------------------------------------------


class ComplianceRow(BaseModel):
    """One office-based officer's verified office share over the period (CONTRACT §6)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, serialize_by_alias=True)

    officer_id: str = Field(description="The officer's id", examples=["O-0001"])
    display_name: str | None = Field(
        default=None, description="Name from officers.csv (HR and investigators only)"
    )
    rank: str | None = Field(default=None, description="Rank from officers.csv", examples=["PC"])
    unit: str | None = Field(description="Unit from officers.csv", examples=["Finance"])
    from_: str | None = Field(
        default=None, alias="from", description="First local day of the period"
    )
    to: str | None = Field(default=None, description="Last local day of the period, inclusive")
    expected_office_days: int = Field(
        description="Days with an on-duty shift declared office or remote", examples=[12]
    )
    declared_office_days: int = Field(description="Expected days declared office", examples=[12])
    verified_office_days: int = Field(
        description="Expected days with verified station presence of office_day_min_hours",
        examples=[9],
    )
    verified_office_share: float | None = Field(
        description="verified / (expected - insufficient evidence); null when nothing assessed",
        examples=[0.75],
    )
    meets_policy: bool = Field(
        description="share >= min_office_share (true when the share is null)", examples=[False]
    )
    insufficient_evidence_days: int = Field(
        description="Expected days without adequate evidence (never counted against anyone)",
        examples=[1],
    )


class ComplianceReport(BaseModel):
    """The compliance rows of a period (``below``: only officers under the policy share)."""

    from_: str = Field(alias="from", description="First local day", examples=["2026-10-01"])
    to: str = Field(description="Last local day, inclusive", examples=["2026-10-31"])
    unit: str | None = Field(default=None, description="The unit filter as given (any case)")
    rank: str | None = Field(default=None, description="The rank filter as given (any case)")
    min_office_share: float = Field(description="The policy's threshold", examples=[0.8])
    rows: list[ComplianceRow] = Field(description="One row per office-based officer")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class UnitRow(BaseModel):
    """One unit's office-based officers against the hybrid-working rule."""

    unit: str | None = Field(description="The unit (null: officers without one)", examples=["CID"])
    officers: int = Field(description="Office-based officers of the unit", examples=[40])
    officers_assessed: int = Field(
        description="Officers with a share (an expected day with adequate evidence)",
        examples=[38],
    )
    officers_meeting_policy: int = Field(
        description="Assessed officers whose share meets min_office_share", examples=[31]
    )
    officers_below_policy: int = Field(
        description="Assessed officers whose share is below min_office_share", examples=[7]
    )
    median_share: float | None = Field(
        description="Median share of the assessed officers (null: none assessed)", examples=[0.86]
    )
    p10_share: float | None = Field(
        description="10th percentile of the assessed officers' shares (linear interpolation)",
        examples=[0.62],
    )
    expected_office_days: int = Field(description="Summed over the unit's officers")
    verified_office_days: int = Field(description="Summed over the unit's officers")
    insufficient_evidence_days: int = Field(description="Summed over the unit's officers")
    officers_url: str = Field(
        description="The drill-down: this unit's officer rows (GET /v1/compliance)",
        examples=["/v1/compliance?from=2026-10-01&to=2026-10-31&unit=CID"],
    )


class UnitReport(BaseModel):
    """Compliance rolled up per unit; with ``unit`` given, that unit's officers too."""

    from_: str = Field(alias="from", description="First local day", examples=["2026-10-01"])
    to: str = Field(description="Last local day, inclusive", examples=["2026-10-31"])
    unit: str | None = Field(default=None, description="The unit filter as given (any case)")
    rank: str | None = Field(default=None, description="The rank filter as given (any case)")
    min_office_share: float = Field(description="The policy's threshold", examples=[0.8])
    units: list[UnitRow] = Field(description="One row per unit, sorted by unit")
    officers: list[ComplianceRow] | None = Field(
        default=None, description="The drill-down, when a unit is asked for: its officer rows"
    )

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class DayRow(BaseModel):
    """One officer's verified attendance on one local day."""

    date: str = Field(description="The local day", examples=["2026-10-05"])
    expected_office: bool = Field(description="An on-duty shift declared office or remote")
    declared_location: str | None = Field(
        description="office, remote or field (null: no on-duty shift)", examples=["office"]
    )
    verified_presence_minutes: float = Field(
        description="Verified presence at stations, minutes", examples=[412.5]
    )
    verified_office_day: bool = Field(
        description="Expected day with presence of at least office_day_min_hours"
    )
    evidence: Literal["adequate", "insufficient_evidence"] = Field(
        description="Whether the day had enough evidence to be assessed", examples=["adequate"]
    )


class OfficerDayRow(DayRow):
    """A day row of every officer's report (``GET /v1/days``)."""

    officer_id: str = Field(description="The officer's id", examples=["O-0001"])


class DaysReport(BaseModel):
    """Every officer's daily results of a period, for analysts' tools."""

    from_: str = Field(alias="from", description="First local day", examples=["2026-10-01"])
    to: str = Field(description="Last local day, inclusive", examples=["2026-10-31"])
    rows: list[OfficerDayRow] = Field(description="Sorted by officer_id then date")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class FlagOut(BaseModel):
    """A flag: a lead for a human reviewer, with its evidence, rule version and status."""

    model_config = ConfigDict(extra="allow")

    flag_id: str = Field(examples=["5b0c6c9e-4a43-4a8e-9d0b-2f8f3f1f9a11"])
    officer_id: str = Field(examples=["O-0001"])
    code: str = Field(examples=["DECLARED_OFFICE_UNVERIFIED"])
    date: str = Field(examples=["2026-10-05"])
    status: str = Field(examples=["open"])
    evidence: dict[str, Any]


class OfficerReport(BaseModel):
    """An officer's days and flags (HR sees BELOW_OFFICE_SHARE flags only)."""

    from_: str = Field(alias="from", examples=["2026-10-01"])
    to: str = Field(examples=["2026-10-31"])
    officer_id: str = Field(examples=["O-0001"])
    days: list[DayRow]
    flags: list[FlagOut]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class EventSource(BaseModel):
    """Where an event comes from: the system and its record id."""

    system: str = Field(examples=["roster"])
    id: str = Field(examples=["S123"])


class TimelineEvent(BaseModel):
    """One on-duty event. ``presence`` names a station, ``away`` an H3 cell (never coordinates),
    ``off_duty`` carries only its times."""

    type: Literal["shift_start", "shift_end", "swipe", "presence", "away", "off_duty"]
    start: str = Field(examples=["2026-10-05T08:00:00+01:00"])
    end: str | None = Field(default=None, examples=["2026-10-05T12:30:00+01:00"])
    source: EventSource | None = None
    station_id: str | None = Field(default=None, examples=["ST-01"])
    h3_cell: str | None = Field(default=None, examples=["87195da49ffffff"])
    h3_resolution: int | None = Field(default=None, examples=[7])
    evidence: dict[str, Any] | None = None


class Timeline(BaseModel):
    """An officer's verified on-duty record for a period, in time order."""

    from_: str = Field(alias="from", examples=["2026-10-05T00:00:00+01:00"])
    to: str = Field(examples=["2026-10-06T00:00:00+01:00"])
    officer_id: str = Field(examples=["O-0001"])
    events: list[TimelineEvent]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ExportSignature(BaseModel):
    """An Ed25519 signature over the canonical JSON of ``document`` (sorted keys, no whitespace,
    UTF-8), made with the key ``key_id`` names (published at ``GET /v1/export-keys``)."""

    alg: Literal["Ed25519"]
    key_id: str = Field(
        description="``k-`` and 16 hex digits of SHA-256 of the public key",
        examples=["k-7c34d0b55bb5cffc"],
    )
    value: str = Field(
        description="The 64-byte signature in unpadded base64url",
        examples=[
            "6QA5_wtM27jgZRQU6bkWaKVz6IJ0oAcPDJ34zH0rZRjG8lQ1g9lzIkz-aS_s2IGvFhaSeTxynguUSPm1wCEwAQ"
        ],
    )


class ExportPublicKey(BaseModel):
    """A public key that checks timeline exports."""

    alg: Literal["Ed25519"]
    key_id: str = Field(examples=["k-7c34d0b55bb5cffc"])
    public_key: str = Field(
        description="The 32 key bytes in unpadded base64url (what `--public-key` takes)",
        examples=["kKZOG5RE3YxCMSCH15AnY368Xc8WR7c6tClo88YD5Kw"],
    )
    public_key_pem: str = Field(
        description="The same key as a PEM SubjectPublicKeyInfo block",
        examples=[
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAkKZOG5RE3YxCMSCH15AnY368Xc8WR7c6tClo88YD5Kw="
            "\n-----END PUBLIC KEY-----\n"
        ],
    )


class ExportKeys(BaseModel):
    """The keys this service signs timeline exports with."""

    keys: list[ExportPublicKey]


class ExportDocument(BaseModel):
    """What is signed: the timeline and who exported it, when, for which case."""

    timeline: dict[str, Any]
    exported_at: str
    exported_by: str
    role: str
    case_ref: str | None
    request_id: str


class SignedTimeline(BaseModel):
    """A timeline export that `rollcall timeline verify FILE --public-key KEY` can check later."""

    document: ExportDocument
    signature: ExportSignature


class FlagPage(BaseModel):
    """A page of flags, newest day first; pass ``next_cursor`` as ``after`` for the next page."""

    flags: list[FlagOut]
    next_cursor: str | None = Field(examples=[None])


class FlagPatch(BaseModel):
    """A review decision: the new status and the reviewer's note."""

    model_config = ConfigDict(extra="forbid")

    status: ReviewStatus = Field(examples=["under_review"])
    note: str = Field(min_length=1, max_length=4000, examples=["Checked swipe logs with the unit."])
    expected_status: ReviewStatus | None = Field(
        default=None, description="If given, the change is refused (409) unless the flag is in it"
    )
    case_ref: str | None = Field(default=None, max_length=200, examples=["CASE-2026-0042"])


class ReviewOut(BaseModel):
    """One recorded change of status."""

    review_id: int
    at: str
    actor: str
    role: str
    from_status: str
    to_status: str
    note: str | None


class FlagReviewResult(BaseModel):
    """The flag after review and the change recorded (null when nothing changed)."""

    flag: FlagOut
    review: ReviewOut | None


class AuditEntryOut(BaseModel):
    """One audit entry: who did what, to whose data, why, when, with the chain hashes."""

    seq: int
    at: str
    actor: str
    role: str
    action: str = Field(examples=["read.timeline"])
    officer_id: str | None
    case_ref: str | None
    purpose: str | None
    request_id: str | None
    detail: dict[str, Any] | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    """A page of audit entries in seq order; pass ``next_after`` as ``after`` for the next page."""

    entries: list[AuditEntryOut]
    next_after: int | None


class Health(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "ready", "unavailable", "not_migrated"]


# --- maps ---------------------------------------------------------------------------------------


class Geometry(BaseModel):
    """A GeoJSON geometry (RFC 7946), longitude before latitude."""

    type: Literal["Polygon", "MultiPolygon"] = Field(description="Polygon or MultiPolygon")
    coordinates: list[Any] = Field(description="Rings of [longitude, latitude] positions")


class StationProperties(BaseModel):
    """What a station feature says about the station."""

    station_id: str = Field(description="The station's id", examples=["ST-01"])
    name: str = Field(description="The station's name", examples=["Charing Cross"])
    borough: str | None = Field(description="Its borough", examples=["Westminster"])


class StationFeature(BaseModel):
    """One station's fence."""

    type: Literal["Feature"] = Field(description="Always Feature")
    id: str = Field(description="The station's id", examples=["ST-01"])
    geometry: Geometry = Field(description="The fence")
    properties: StationProperties = Field(description="Id, name and borough")


class StationCollection(BaseModel):
    """Every station's fence (station outlines are not personal data)."""

    type: Literal["FeatureCollection"] = Field(description="Always FeatureCollection")
    features: list[StationFeature] = Field(description="One feature per station, by id")


class TimelineFeature(BaseModel):
    """One timeline event: presence and swipes drawn as their station's fence, away segments as
    their H3 cell's hexagon, events without a place with a null geometry; never a point."""

    type: Literal["Feature"] = Field(description="Always Feature")
    geometry: Geometry | None = Field(description="Fence, hexagon, or null")
    properties: TimelineEvent = Field(description="The event as in the JSON timeline")


class TimelineCollection(BaseModel):
    """A timeline as GeoJSON (``Accept: application/geo+json``)."""

    type: Literal["FeatureCollection"] = Field(description="Always FeatureCollection")
    officer_id: str = Field(description="The officer", examples=["O-0001"])
    from_: str = Field(alias="from", description="Start of the period (ISO 8601)")
    to: str = Field(description="End of the period, exclusive (ISO 8601)")
    features: list[TimelineFeature] = Field(description="One feature per event, in time order")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
