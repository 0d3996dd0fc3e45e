"""Request and response models of the HTTP API (they document it: every endpoint has one)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ReviewStatus = Literal["open", "under_review", "dismissed", "substantiated"]


class ErrorDetail(BaseModel):
    """What went wrong, safe to show: never a database error's text."""

    code: str = Field(description="Stable machine-readable code", examples=["forbidden"])
    message: str = Field(description="Safe to show to a user", examples=["role hr may not do this"])
    request_id: str | None = Field(
        description="The request's id, to quote when reporting it",
        examples=["6f1c2a9e0b4d4e5f8a7b6c5d4e3f2a1b"],
    )
    details: Any | None = Field(
        default=None, description="Where and why, for invalid input (never the input itself)"
    )


class ErrorBody(BaseModel):
    """The one error shape of every endpoint."""

    error: ErrorDetail = Field(description="What went wrong")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "Malformed parameter",
        401: "No valid bearer token",
        403: "Role or officer not allowed",
        404: "Not found",
        409: "Conflicts with the current state (reload and try again)",
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
# A report over many officers: as a read, without an officer to be missing.
REPORT_ERRORS = errors(400, 401, 403, 422, 503)

# --- ingest -------------------------------------------------------------------------------------


class PingIn(BaseModel):
    """A device fix (CONTRACT §2 pings.csv). Values may be strings as in the file."""

    device_id: str = Field(description="The device (devices.csv)", examples=["D-1001"])
    ts: str = Field(
        description="When the fix was taken (ISO 8601; no offset: force's local time)",
        examples=["2026-10-05T09:14:03+01:00"],
    )
    lat: float | str = Field(description="Latitude, WGS84 degrees", examples=[51.5007])
    lon: float | str = Field(description="Longitude, WGS84 degrees", examples=[-0.1246])
    accuracy_m: float | str | None = Field(
        description="68% error radius, metres (> 0; empty: unknown)", default=None, examples=[12.0]
    )
    source: str | None = Field(
        description="gps, wifi, cell or fused", default=None, examples=["gps"]
    )
    is_mock: bool | str | None = Field(
        description="The device says the fix was simulated", default=None, examples=[False]
    )


class SwipeIn(BaseModel):
    """A door badge swipe (CONTRACT §2 swipes.csv)."""

    badge_id: str = Field(description="The badge (badges.csv)", examples=["B-2001"])
    ts: str = Field(description="When (ISO 8601)", examples=["2026-10-05T08:58:41+01:00"])
    station_id: str = Field(description="The station of the door", examples=["ST-01"])
    reader_id: str | None = Field(description="The door reader", default=None, examples=["R-01-A"])
    direction: str | None = Field(
        description="in, out or unknown (empty: unknown)", default=None, examples=["in"]
    )
    granted: bool | str | None = Field(
        description="Whether the door opened (empty: true)", default=None, examples=[True]
    )


class ShiftIn(BaseModel):
    """A rostered shift (CONTRACT §2 roster.csv); a later one with the same shift_id replaces it."""

    shift_id: str = Field(
        description="The shift's id (a later one replaces it: a roster edit)", examples=["S123"]
    )
    officer_id: str = Field(description="The officer", examples=["O-0001"])
    start: str = Field(description="Start (ISO 8601)", examples=["2026-10-05T08:00:00+01:00"])
    end: str = Field(
        description="End (ISO 8601), after start", examples=["2026-10-05T16:00:00+01:00"]
    )
    kind: str = Field(
        description="duty, overtime, training (on duty), leave, sick, rest", examples=["duty"]
    )
    station_id: str | None = Field(
        description="The station of an office shift", default=None, examples=["ST-01"]
    )
    declared_location: str | None = Field(
        description="office, remote or field (on-duty shifts)", default=None, examples=["office"]
    )
    created_at: str | None = Field(
        description="When the roster system created it",
        default=None,
        examples=["2026-09-20T10:00:00+01:00"],
    )
    updated_at: str | None = Field(
        default=None, description="When the roster system last changed it"
    )


class PingBatch(BaseModel):
    """Up to 10,000 pings. Items are validated one by one: a bad item is rejected, not the batch."""

    pings: list[PingIn] = Field(description="Up to 10,000 pings")


class SwipeBatch(BaseModel):
    """Up to 10,000 swipes."""

    swipes: list[SwipeIn] = Field(description="Up to 10,000 swipes")


class ShiftBatch(BaseModel):
    """Up to 10,000 shifts."""

    shifts: list[ShiftIn] = Field(description="Up to 10,000 shifts")


class ItemError(BaseModel):
    """One rejected item: its 0-based position in the batch, the field and why."""

    index: int = Field(description="0-based position of the item in the batch", examples=[3])
    field: str | None = Field(
        description="The field at fault (null: the item as a whole)", examples=["accuracy_m"]
    )
    reason: str = Field(
        description="Why it was rejected (never the value)", examples=["must be greater than 0"]
    )


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

    accepted: int = Field(description="Items stored")
    duplicate: int = Field(description="Items already stored (same natural key)")
    masked: int = Field(description="Off-duty items: counted, never stored")
    held: int = Field(description="Items without a covering shift, held for a late roster entry")
    rejected: int = Field(description="Invalid items (see errors)")
    errors: list[ItemError] = Field(description="One entry per rejected item")


class StationResult(BaseModel):
    """A stored station; ``changed`` is false when the same fence was already stored."""

    station_id: str = Field(description="The station stored", examples=["ST-01"])
    changed: bool = Field(description="False when the same fence was already stored")


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
        description="Estimated share: unknown office days at the rate of the assessed office "
        "days; null when too few days are assessed (share_min_assessed_days / _fraction)",
        examples=[0.75],
    )
    meets_policy: bool = Field(
        description="False only when even office_share_upper is below min_office_share",
        examples=[False],
    )
    insufficient_evidence_days: int = Field(
        description="Declared office days without adequate evidence (never counted against "
        "anyone; a declared remote day is known not to be an office day)",
        examples=[1],
    )
    office_share_lower: float | None = Field(
        default=None,
        description="verified / expected office days: every day without evidence not an office day",
        examples=[0.7],
    )
    office_share_upper: float | None = Field(
        default=None,
        description="(verified + days without evidence) / expected: every such day an office day; "
        "meets_policy is false only when this is below min_office_share",
        examples=[0.8],
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

    flag_id: str = Field(
        description="The flag's id", examples=["5b0c6c9e-4a43-4a8e-9d0b-2f8f3f1f9a11"]
    )
    officer_id: str = Field(description="The officer it concerns", examples=["O-0001"])
    code: str = Field(
        description="The flag code (CONTRACT §5)", examples=["DECLARED_OFFICE_UNVERIFIED"]
    )
    date: str = Field(description="The local day it is about", examples=["2026-10-05"])
    status: str = Field(
        description="Review status: open, under_review, dismissed, substantiated", examples=["open"]
    )
    evidence: dict[str, Any] = Field(description="The intervals, events and thresholds behind it")


class OfficerReport(BaseModel):
    """An officer's days and flags (HR sees BELOW_OFFICE_SHARE flags only)."""

    from_: str = Field(description="First local day", alias="from", examples=["2026-10-01"])
    to: str = Field(description="Last local day, inclusive", examples=["2026-10-31"])
    officer_id: str = Field(description="The officer", examples=["O-0001"])
    days: list[DayRow] = Field(description="One row per local day with a result, in order")
    flags: list[FlagOut] = Field(description="The period's flags (HR: BELOW_OFFICE_SHARE only)")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class EventSource(BaseModel):
    """Where an event comes from: the system and its record id."""

    system: str = Field(
        description="The system the event comes from (roster, access_control, rollcall.presence)",
        examples=["roster"],
    )
    id: str = Field(description="Its record id there", examples=["S123"])


class TimelineEvent(BaseModel):
    """One on-duty event. ``presence`` names a station, ``away`` an H3 cell (never coordinates),
    ``off_duty`` carries only its times."""

    type: Literal["shift_start", "shift_end", "swipe", "presence", "away", "off_duty"] = Field(
        description="What happened"
    )
    start: str = Field(
        description="When it starts (ISO 8601, force's offset)",
        examples=["2026-10-05T08:00:00+01:00"],
    )
    end: str | None = Field(
        description="When a segment ends (null: an instant)",
        default=None,
        examples=["2026-10-05T12:30:00+01:00"],
    )
    source: EventSource | None = Field(default=None, description="Where it comes from")
    station_id: str | None = Field(
        description="The station (presence, swipe)", default=None, examples=["ST-01"]
    )
    h3_cell: str | None = Field(
        description="The H3 cell of an away segment, never a coordinate",
        default=None,
        examples=["87195da49ffffff"],
    )
    h3_resolution: int | None = Field(
        description="Its resolution (policy.timeline_cell_resolution)", default=None, examples=[7]
    )
    evidence: dict[str, Any] | None = Field(
        default=None, description="What supports it (counts, sources, shift fields)"
    )


class Timeline(BaseModel):
    """An officer's verified on-duty record for a period, in time order."""

    from_: str = Field(
        description="Start of the period (ISO 8601, force's offset)",
        alias="from",
        examples=["2026-10-05T00:00:00+01:00"],
    )
    to: str = Field(
        description="End of the period, exclusive", examples=["2026-10-06T00:00:00+01:00"]
    )
    officer_id: str = Field(description="The officer", examples=["O-0001"])
    events: list[TimelineEvent] = Field(description="On-duty events in time order")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ExportSignature(BaseModel):
    """An Ed25519 signature over the canonical JSON of ``document`` (sorted keys, no whitespace,
    UTF-8), made with the key ``key_id`` names (published at ``GET /v1/export-keys``)."""

    alg: Literal["Ed25519"] = Field(description="Always Ed25519")
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

    alg: Literal["Ed25519"] = Field(description="Always Ed25519")
    key_id: str = Field(
        description="k- and 16 hex digits of SHA-256 of the public key",
        examples=["k-7c34d0b55bb5cffc"],
    )
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

    keys: list[ExportPublicKey] = Field(
        description="The keys in use (one, or more during a rotation)"
    )


class ExportOfficer(BaseModel):
    """Who the export is about."""

    officer_id: str = Field(description="The officer's id", examples=["O-0001"])
    display_name: str | None = Field(description="Name from officers.csv")
    rank: str | None = Field(description="Rank from officers.csv")
    unit: str | None = Field(description="Unit from officers.csv")


class ReviewEntry(BaseModel):
    """One recorded change of a flag's status, in an export."""

    at: str = Field(description="When (ISO 8601, force's offset)")
    actor: str = Field(description="Who changed it")
    role: str = Field(description="In which role")
    from_status: str = Field(description="Status before")
    to_status: str = Field(description="Status after")
    note: str | None = Field(description="The reviewer's note")


class ExportFlag(FlagOut):
    """A flag of the export's period with its review history."""

    reviews: list[ReviewEntry] = Field(description="Every change of status, oldest first")


class ExportDocument(BaseModel):
    """What is signed: the timeline, the officer, the period's days and flags, and who exported
    it, when, for which case."""

    timeline: Timeline = Field(description="The timeline, as GET .../timeline gives it")
    officer: ExportOfficer | None = Field(default=None, description="Who the export is about")
    days: list[DayRow] | None = Field(
        default=None, description="The day results of the period's local days"
    )
    flags: list[ExportFlag] | None = Field(
        default=None, description="The period's flags (withdrawn ones marked) with reviews"
    )
    exported_at: str = Field(description="When (ISO 8601, force's offset)")
    exported_by: str = Field(description="The token's subject")
    role: str = Field(description="The token's role")
    case_ref: str | None = Field(description="The case it was exported for")
    request_id: str = Field(description="The request's id (X-Request-ID)")


class SignedTimeline(BaseModel):
    """A timeline export that `rollcall timeline verify FILE --public-key KEY` can check later."""

    document: ExportDocument = Field(description="What is signed")
    signature: ExportSignature = Field(
        description="The signature over the canonical JSON of document"
    )


class FlagPage(BaseModel):
    """A page of flags, newest day first; pass ``next_cursor`` as ``after`` for the next page."""

    flags: list[FlagOut] = Field(description="The page's flags, newest day first")
    next_cursor: str | None = Field(
        description="Pass as after for the next page; null at the end", examples=[None]
    )


class FlagPatch(BaseModel):
    """A review decision: the new status and the reviewer's note."""

    model_config = ConfigDict(extra="forbid")

    status: ReviewStatus = Field(description="The new review status", examples=["under_review"])
    note: str = Field(
        description="The reviewer's note (kept with the change)",
        min_length=1,
        max_length=4000,
        examples=["Checked swipe logs with the unit."],
    )
    expected_status: ReviewStatus | None = Field(
        default=None, description="If given, the change is refused (409) unless the flag is in it"
    )
    case_ref: str | None = Field(
        description="Case reference recorded in the audit log",
        default=None,
        max_length=200,
        examples=["CASE-2026-0042"],
    )


class ReviewOut(BaseModel):
    """One recorded change of status."""

    review_id: int = Field(description="The change's id")
    at: str = Field(description="When (ISO 8601, force's offset)")
    actor: str = Field(description="Who changed it")
    role: str = Field(description="In which role")
    from_status: str = Field(description="Status before")
    to_status: str = Field(description="Status after")
    note: str | None = Field(description="The reviewer's note")


class FlagReviewResult(BaseModel):
    """The flag after review and the change recorded (null when nothing changed)."""

    flag: FlagOut = Field(description="The flag after the review")
    review: ReviewOut | None = Field(description="The change recorded (null when nothing changed)")


class AuditEntryOut(BaseModel):
    """One audit entry: who did what, to whose data, why, when, with the chain hashes."""

    seq: int = Field(description="Position in the chain, from 1")
    at: str = Field(description="When (ISO 8601, force's offset)")
    actor: str = Field(description="Who (token subject, or the OS user for the command line)")
    role: str = Field(description="In which role")
    action: str = Field(description="What was done", examples=["read.timeline"])
    officer_id: str | None = Field(description="Whose data (null: nobody's)")
    case_ref: str | None = Field(description="The case it was for")
    purpose: str | None = Field(description="Why, as the caller said")
    request_id: str | None = Field(description="The request's id (X-Request-ID)")
    detail: dict[str, Any] | None = Field(
        description="What was read or changed (never coordinates, tokens or off-duty data)"
    )
    prev_hash: str = Field(description="Hash of the previous entry (SHA-256, hex)")
    hash: str = Field(description="Hash of this entry with prev_hash (SHA-256, hex)")


class AuditPage(BaseModel):
    """A page of audit entries in seq order; pass ``next_after`` as ``after`` for the next page."""

    entries: list[AuditEntryOut] = Field(description="Entries in seq order")
    next_after: int | None = Field(description="Pass as after for the next page; null at the end")


class Health(BaseModel):
    """Liveness or readiness."""

    status: Literal["ok", "ready", "unavailable", "not_migrated"] = Field(
        description="ok (alive), ready (database reachable at the schema head), unavailable "
        "(database unreachable) or not_migrated (run `rollcall db upgrade`)"
    )


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
