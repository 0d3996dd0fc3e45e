"""Request and response models of the HTTP API (they document it: every endpoint has one)."""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, create_model

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
from rules.records import Field as RecordField


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


def _request_type(field: RecordField) -> Any:
    """A record field's type in a request item: as a file holds it (an instant as text, numbers
    and booleans also as text), an enum where it has allowed values; optional unless required."""
    kind: Any = str
    if field.values is not None:
        kind = field.values
    elif field.dtype == pl.Float64():
        kind = float | str
    elif field.dtype == pl.Boolean():
        kind = bool | str
    return kind if field.required else kind | None


def request_model(record: Record, name: str, doc: str) -> type[BaseModel]:
    """The request item of ``record``: its imported fields, named as the file's columns, with
    their descriptions and examples (documentation: items are parsed by api.batch)."""
    fields: dict[str, Any] = {}
    for f in record.imported:
        info: dict[str, Any] = {"description": f.description}
        if f.example is not None:
            info["examples"] = [f.example]
        if not f.required:
            info["default"] = None
        fields[f.column] = (_request_type(f), Field(**info))
    return create_model(name, __doc__=doc, __module__=__name__, **fields)


def batch_model(name: str, key: str, item: type[BaseModel], doc: str) -> type[BaseModel]:
    """A batch request body, ``{"<key>": [items...]}`` of up to 10,000 ``item``."""
    items: Any = list.__class_getitem__(item)
    fields: dict[str, Any] = {key: (items, Field(description=f"Up to 10,000 {key}"))}
    return create_model(name, __doc__=doc, __module__=__name__, **fields)


PingIn = request_model(
    PING, "PingIn", "A device fix (CONTRACT §2 pings.csv). Values may be strings as in the file."
)
SwipeIn = request_model(SWIPE, "SwipeIn", "A door badge swipe (CONTRACT §2 swipes.csv).")
VisitIn = request_model(
    VISIT, "VisitIn", "An operating-system visit: a stay at one place (CONTRACT §2 visits.csv)."
)
ShiftIn = request_model(
    SHIFT,
    "ShiftIn",
    "A rostered shift (CONTRACT §2 roster.csv); a later one with the same shift_id replaces it.",
)
PingBatch = batch_model(
    "PingBatch",
    "pings",
    PingIn,
    "Up to 10,000 pings. Items are validated one by one: a bad item is rejected, not the batch.",
)
SwipeBatch = batch_model("SwipeBatch", "swipes", SwipeIn, "Up to 10,000 swipes.")
VisitBatch = batch_model("VisitBatch", "visits", VisitIn, "Up to 10,000 visits.")
ShiftBatch = batch_model("ShiftBatch", "shifts", ShiftIn, "Up to 10,000 shifts.")


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
    declared_location: DeclaredLocation | None = Field(
        description="office, remote or field (null: no on-duty shift)", examples=["office"]
    )
    verified_presence_minutes: float = Field(
        description="Verified presence at stations, minutes", examples=[412.5]
    )
    verified_office_day: bool = Field(
        description="Expected day with presence of at least office_day_min_hours"
    )
    evidence: DayEvidence = Field(
        description="Whether the day had enough evidence to be assessed", examples=["adequate"]
    )


class OfficerReportDay(DayRow):
    """A day of one officer's report, with the manual adjustments made to it."""

    adjustments: list[AdjustmentOut] = Field(
        default_factory=list,
        description="Manual adjustments of the day (upheld contests); ``applied`` ones are "
        "included in the values above",
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
    status: FlagStatus = Field(
        description="Review status: open, under_review, dismissed, substantiated", examples=["open"]
    )
    evidence: dict[str, Any] = Field(description="The intervals, events and thresholds behind it")
    summary: str | None = Field(default=None, description="One line saying what was found")
    rule_version: str | None = Field(default=None, description="Version of the rule that raised it")
    policy_version: str | None = Field(default=None, description="Digest of the policy values used")
    misconduct: bool | None = Field(
        default=None, description="A misconduct lead (false only for BELOW_OFFICE_SHARE)"
    )
    withdrawn: bool | None = Field(
        default=None, description="The finding disappeared after corrected data (kept as history)"
    )
    raised_at: str | None = Field(default=None, description="When it was first raised")
    last_reviewer: str | None = Field(
        default=None, description="Who last reviewed it (null: never reviewed)"
    )
    last_reviewed_at: str | None = Field(default=None, description="When it was last reviewed")
    responded: bool | None = Field(
        default=None, description="Whether the officer has responded to it"
    )


class OfficerReport(BaseModel):
    """An officer's days and flags (HR sees BELOW_OFFICE_SHARE flags only)."""

    from_: str = Field(description="First local day", alias="from", examples=["2026-10-01"])
    to: str = Field(description="Last local day, inclusive", examples=["2026-10-31"])
    officer_id: str = Field(description="The officer", examples=["O-0001"])
    display_name: str | None = Field(
        default=None,
        description="Name from officers.csv, for HR and investigators (null for the officer)",
    )
    rank: str | None = Field(
        default=None,
        description="Rank from officers.csv, for HR and investigators (null for the officer)",
        examples=["Chief Inspector"],
    )
    unit: str | None = Field(
        default=None,
        description="Unit from officers.csv, for HR and investigators (null for the officer)",
    )
    days: list[OfficerReportDay] = Field(
        description="One row per local day with a result, in order"
    )
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
    from_status: FlagStatus = Field(description="Status before")
    to_status: FlagStatus = Field(description="Status after")
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

    status: FlagStatus = Field(description="The new review status", examples=["under_review"])
    note: str = Field(
        description="The reviewer's note (kept with the change)",
        min_length=1,
        max_length=4000,
        examples=["Checked swipe logs with the unit."],
    )
    expected_status: FlagStatus | None = Field(
        default=None, description="If given, the change is refused (409) unless the flag is in it"
    )
    case_ref: str | None = Field(
        description="Case reference recorded in the audit log",
        default=None,
        max_length=200,
        examples=["CASE-2026-0042"],
    )


class ReviewOut(BaseModel):
    """One recorded review: who, in which role, when, the change of status, the note and case."""

    review_id: int = Field(description="The change's id")
    at: str = Field(description="When (ISO 8601, force's offset)")
    actor: str = Field(description="Who changed it")
    role: str = Field(description="In which role")
    from_status: FlagStatus = Field(description="Status before")
    to_status: FlagStatus = Field(description="Status after")
    note: str | None = Field(description="The reviewer's note")
    case_ref: str | None = Field(
        default=None, description="The case it was made under", examples=["CASE-2026-0042"]
    )
    kind: ReviewKind = Field(
        default=ReviewKind.CHANGE,
        description="change (one reviewer), proposal (substantiation awaiting another "
        "investigator) or confirmation (a second investigator substantiated it)",
    )


class ResponseIn(BaseModel):
    """The officer's answer to a flag."""

    model_config = ConfigDict(extra="forbid")

    category: ReplyCategory = Field(
        description="What the officer says explains it", examples=["device_problem"]
    )
    statement: str = Field(
        description="The officer's statement",
        min_length=1,
        max_length=8000,
        examples=["My phone was replaced that week."],
    )


class ResponseOut(BaseModel):
    """An officer's recorded answer to a flag."""

    response_id: int = Field(description="The response's id")
    flag_id: str = Field(description="The flag answered")
    officer_id: str = Field(description="The officer")
    at: str = Field(description="When it was written", examples=["2026-10-08T09:00:00+01:00"])
    actor: str = Field(description="The token subject who wrote it")
    category: ReplyCategory = Field(description="What the officer says explains it")
    statement: str = Field(description="The officer's statement")
    duplicate: bool = Field(
        default=False, description="True when the same answer was already recorded (sent twice)"
    )


class Substantiation(BaseModel):
    """Where two-person substantiation stands."""

    needed: int = Field(examples=[2], description="policy.substantiation_reviewers")
    proposed_by: list[str] = Field(
        description="Investigators whose proposal awaits confirmation by another"
    )


class FlagRecord(BaseModel):
    """A flag with its whole history: every review and every response of the officer."""

    flag: FlagOut = Field(description="The flag with its review state")
    reviews: list[ReviewOut] = Field(description="Every review, oldest first")
    responses: list[ResponseOut] = Field(description="Every response of the officer, oldest first")
    substantiation: Substantiation = Field(description="Where two-person substantiation stands")


class FlagReviewResult(BaseModel):
    """The flag after review and the change recorded (null when nothing changed)."""

    flag: FlagOut = Field(description="The flag after the review")
    review: ReviewOut | None = Field(description="The change recorded (null when nothing changed)")
    substantiation: Substantiation = Field(description="Where two-person substantiation stands")


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


# --- right of reply -----------------------------------------------------------------------------


class ContestIn(BaseModel):
    """The officer's contest of one of their days."""

    model_config = ConfigDict(extra="forbid")

    date: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-10-05"], description="The local day"
    )
    category: ReplyCategory = Field(
        description="What kind of error the officer says it is", examples=["other_station"]
    )
    statement: str = Field(
        description="The officer's statement",
        min_length=1,
        max_length=8000,
        examples=["I worked at Lambeth that day, not at my base."],
    )


class ContestAnswerIn(BaseModel):
    """An answer to a contest by HR or an investigator."""

    model_config = ConfigDict(extra="forbid")

    outcome: Literal["upheld", "not_upheld"] = Field(description="upheld or not_upheld")
    reason: str = Field(
        description="Why: shown to the officer",
        min_length=1,
        max_length=4000,
        examples=["Lambeth door log confirms it."],
    )
    effect: AdjustmentEffect | None = Field(
        default=None,
        description="What upholding changes: the day counts as a verified office day, or it "
        "leaves the expected office days. Default from the category (other_station and "
        "device_problem: verified_office_day; roster_error and leave_not_recorded: "
        "not_expected); required for ``other``",
    )
    case_ref: str | None = Field(
        default=None, max_length=100, description="Required for investigators"
    )


class AdjustmentOut(BaseModel):
    """A recorded manual change to a day's result: who, when, why and what it changes."""

    adjustment_id: int = Field(description="The adjustment's id")
    officer_id: str = Field(description="The officer")
    date: str = Field(description="The local day it changes")
    effect: AdjustmentEffect = Field(description="verified_office_day or not_expected")
    contest_id: int | None = Field(description="The contest whose upholding made it")
    made_at: str = Field(description="When it was made")
    made_by: str = Field(description="Who made it")
    role: str = Field(description="In which role")
    reason: str = Field(description="Why")
    applied: bool | None = Field(
        default=None, description="Whether the stored result already includes it (nightly job)"
    )


class ContestOut(BaseModel):
    """A day contest and its answer (null until answered)."""

    contest_id: int = Field(description="The contest's id")
    officer_id: str = Field(description="The officer")
    date: str = Field(description="The contested local day")
    at: str = Field(description="When the officer contested it")
    actor: str = Field(description="Who wrote it (token subject)")
    category: ReplyCategory = Field(description="What kind of error the officer says it is")
    statement: str = Field(description="The officer's statement")
    status: ContestStatus = Field(description="open, upheld or not_upheld")
    answered_at: str | None = Field(description="When it was answered")
    answered_by: str | None = Field(description="Who answered it")
    answered_role: str | None = Field(description="In which role")
    reason: str | None = Field(description="Why it was answered so")
    adjustment: AdjustmentOut | None = Field(
        default=None, description="The adjustment upholding it made"
    )
    duplicate: bool = Field(
        default=False, description="True when the same contest was already recorded (sent twice)"
    )


class ContestList(BaseModel):
    """Contests, newest first."""

    contests: list[ContestOut] = Field(description="Contests, newest first")


class CaseClosed(BaseModel):
    """A closed case: reads made under it now appear in the officers' access logs."""

    case_ref: str = Field(description="The case")
    closed_at: str = Field(description="When it was first closed")
    closed_by: str = Field(description="Who closed it")


# --- what the officer can see about themselves ---------------------------------------------------


class AccessEntryOut(BaseModel):
    """One read or change of the officer's data: who, in which role, when, why, for which case."""

    seq: int = Field(description="Position in the audit log")
    at: str = Field(
        description="When it was read or changed", examples=["2026-10-07T10:15:00+01:00"]
    )
    actor: str = Field(examples=["det.jones"], description="Who (the token subject)")
    role: str = Field(description="In which role", examples=["investigator"])
    action: str = Field(description="What was done, e.g. read.timeline", examples=["read.timeline"])
    purpose: str | None = Field(
        description="Why, as the caller gave it", examples=["subject_access"]
    )
    case_ref: str | None = Field(
        description="The case it was done for", examples=["CASE-2026-0042"]
    )


class AccessLog(BaseModel):
    """Who read or changed the officer's data. Reads made under a case still open appear once
    it is closed, or after policy.open_case_disclosure_days at most."""

    officer_id: str = Field(description="The officer")
    entries: list[AccessEntryOut] = Field(description="Reads and changes, oldest first")
    next_after: int | None = Field(description="Pass as ``after`` for the next page")


# --- fairness -------------------------------------------------------------------------------------


class Proportion(BaseModel):
    """``count`` of ``of`` with its rate and 95% Wilson interval. When either number is below
    10 only the counts are given (``shown_as: counts``; rate and interval null)."""

    count: int = Field(description="The numerator")
    of: int = Field(description="The denominator")
    rate: float | None = Field(description="count / of (null: counts only)")
    low: float | None = Field(description="Lower bound of the 95% Wilson interval")
    high: float | None = Field(description="Upper bound of the 95% Wilson interval")
    shown_as: Literal["rate", "counts"] = Field(
        description="rate, or counts when either number is under 10"
    )


class RuleRow(BaseModel):
    """How one rule's flags of the period were reviewed, and its observed precision
    (substantiated / (substantiated + dismissed))."""

    code: str = Field(description="The flag code")
    raised: int = Field(description="Flags raised in the period that stand")
    reviewed: int = Field(description="Under review, dismissed or substantiated")
    dismissed: int = Field(description="Dismissed")
    substantiated: int = Field(description="Substantiated by two investigators")
    precision: Proportion = Field(description="substantiated of decided")


class GroupRow(BaseModel):
    """One group's flag rate (on-duty days with a misconduct flag) and dismissal rate
    (decided misconduct flags dismissed), each marked when its interval lies wholly above the
    force-wide rate."""

    group: str | None = Field(description="The unit, rank, platform or day/night (null: unknown)")
    officer_days: int = Field(description="On-duty officer-days of the group")
    flagged_days: int = Field(description="Those with a misconduct flag")
    flag_rate: Proportion = Field(description="flagged_days of officer_days")
    flag_rate_above_force: bool = Field(
        description="The flag rate's interval lies wholly above the force-wide rate"
    )
    decided: int = Field(description="The group's misconduct flags dismissed or substantiated")
    dismissed: int = Field(description="Of those, dismissed")
    dismissal_rate: Proportion = Field(description="dismissed of decided")
    dismissal_rate_above_force: bool = Field(
        description="The dismissal rate's interval lies wholly above the force-wide rate"
    )


class ForceRates(BaseModel):
    """The force-wide rates the groups are compared with."""

    officer_days: int = Field(description="On-duty officer-days of the period")
    flagged_days: int = Field(description="Those with a misconduct flag")
    flag_rate: Proportion = Field(description="flagged_days of officer_days")
    decided: int = Field(description="Misconduct flags dismissed or substantiated")
    dismissed: int = Field(description="Of those, dismissed")
    dismissal_rate: Proportion = Field(description="dismissed of decided")


class BelowShareRow(BaseModel):
    """The share of a unit's office-based officers flagged BELOW_OFFICE_SHARE in the period."""

    unit: str | None = Field(description="The unit (null: none)")
    office_based_officers: int = Field(description="Office-based officers in the unit")
    below_share: Proportion = Field(description="Those flagged BELOW_OFFICE_SHARE in the period")


class FairnessReport(BaseModel):
    """How the rules performed and for whom, over local days from..to."""

    from_: str = Field(description="First local day", alias="from", examples=["2026-10-01"])
    to: str = Field(description="Last local day, inclusive", examples=["2026-10-31"])
    force: ForceRates = Field(description="Force-wide rates")
    rules: list[RuleRow] = Field(description="One row per flag code")
    groups: dict[Literal["unit", "rank", "platform", "shift_pattern"], list[GroupRow]] = Field(
        description="Rates by unit, rank, platform and shift_pattern"
    )
    below_office_share_by_unit: list[BelowShareRow] = Field(
        description="BELOW_OFFICE_SHARE by unit"
    )
    min_count: int = Field(description="Counts below this are shown as counts, not rates")


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
