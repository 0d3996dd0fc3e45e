"""The schema: every kind of CONTRACT §2 plus held events, results, flags, job runs and the audit log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column
from sqlalchemy.types import TypeEngine

from rules.clock import INSTANT
from rules.records import (
    BADGE,
    CLAIM,
    DEVICE,
    OFFICER,
    PING,
    SHIFT,
    STATION,
    SWIPE,
    VISIT,
    ReviewKind,
)
from rules.records import Field as RecordField
from store.types import DOCUMENT, FENCE, Instant, stored_dtype

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A shift version edited after its shift began (the roster-integrity period reads these alone),
# written the same way in its partial index and in the reads that use it.
LATE_VERSION_SQL = "COALESCE(updated_at, created_at, recorded_at) > start_at"
# A shift longer than a day and two hours (so no 23- or 25-hour local day is long).
LONG_SHIFT_HOURS = 26


def long_shift_sql(alias: str = "") -> str:
    """The condition of ix_shifts_long, its columns qualified with ``alias`` when given."""
    a = f"{alias}." if alias else ""
    return f"{a}end_at - {a}start_at > interval '{LONG_SHIFT_HOURS} hours'"


LONG_SHIFT_SQL = long_shift_sql()


def record_column(
    field: RecordField, sql_type: TypeEngine[Any] | None = None, **kw: Any
) -> MappedColumn[Any]:
    """The column of a record's field (rules.records). Its SQL type follows the field's stored
    Polars type (store.types.stored_dtype): text as String of the field's max_len, instants as
    Instant, Int64 as BIGINT; ``sql_type`` overrides it (the short codes of a vocabulary, a
    narrower integer). Nullability follows the ``Mapped`` annotation."""
    return mapped_column(sql_type if sql_type is not None else _sql_type(field), **kw)


def _sql_type(field: RecordField) -> TypeEngine[Any]:
    dtype = stored_dtype(field.dtype)
    if dtype == INSTANT:
        return Instant()
    if dtype == pl.Utf8():
        return String(field.max_len)
    if dtype == pl.Float64():
        return Float()
    if dtype == pl.Boolean():
        return Boolean()
    if dtype == pl.Int64():
        return BigInteger()
    raise TypeError(f"{field.name}: no column type for {dtype}")


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- reference data -------------------------------------------------------------------------


class Station(Base):
    """A station and its footprint (MultiPolygon, WGS84, lng/lat axis order)."""

    __tablename__ = "stations"

    station_id: Mapped[str] = record_column(STATION["station_id"], primary_key=True)
    name: Mapped[str] = record_column(STATION["name"])
    borough: Mapped[str | None] = record_column(STATION["borough"])
    geom: Mapped[Any] = mapped_column(FENCE)
    updated_at: Mapped[datetime] = mapped_column(Instant())

    __table_args__ = (
        Index("ix_stations_geom", "geom", postgresql_using="gist").ddl_if(dialect="postgresql"),
    )


class Officer(Base):
    """A member of staff; ``office_based`` staff are subject to the hybrid-working rule."""

    __tablename__ = "officers"

    officer_id: Mapped[str] = record_column(OFFICER["officer_id"], primary_key=True)
    display_name: Mapped[str | None] = record_column(OFFICER["display_name"])
    rank: Mapped[str | None] = record_column(OFFICER["rank"])
    unit: Mapped[str | None] = record_column(OFFICER["unit"], index=True)
    home_station_id: Mapped[str | None] = record_column(OFFICER["home_station_id"])
    office_based: Mapped[bool] = record_column(OFFICER["office_based"])
    account_id: Mapped[str | None] = record_column(OFFICER["account_id"], index=True)
    updated_at: Mapped[datetime] = mapped_column(Instant())


class DeviceAssignment(Base):
    """Which officer a device belongs to from ``valid_from`` until ``valid_to`` (null: still)."""

    __tablename__ = "device_assignments"

    device_id: Mapped[str] = record_column(DEVICE["device_id"], primary_key=True)
    valid_from: Mapped[datetime] = record_column(DEVICE["valid_from"], primary_key=True)
    officer_id: Mapped[str] = record_column(DEVICE["officer_id"], index=True)
    valid_to: Mapped[datetime | None] = record_column(DEVICE["valid_to"])
    platform: Mapped[str | None] = record_column(DEVICE["platform"], String(16))


class BadgeAssignment(Base):
    """Which officer a door badge belongs to from ``valid_from`` until ``valid_to`` (null: still)."""

    __tablename__ = "badge_assignments"

    badge_id: Mapped[str] = record_column(BADGE["badge_id"], primary_key=True)
    valid_from: Mapped[datetime] = record_column(BADGE["valid_from"], primary_key=True)
    officer_id: Mapped[str] = record_column(BADGE["officer_id"], index=True)
    valid_to: Mapped[datetime | None] = record_column(BADGE["valid_to"])


# --- roster -----------------------------------------------------------------------------------


class Shift(Base):
    """The current version of a rostered shift (a later row with the same id replaces it)."""

    __tablename__ = "shifts"

    shift_id: Mapped[str] = record_column(SHIFT["shift_id"], primary_key=True)
    officer_id: Mapped[str] = record_column(SHIFT["officer_id"])
    start_at: Mapped[datetime] = record_column(SHIFT["start_at"])
    end_at: Mapped[datetime] = record_column(SHIFT["end_at"])
    kind: Mapped[str] = record_column(SHIFT["kind"], String(16))
    station_id: Mapped[str | None] = record_column(SHIFT["station_id"])
    declared_location: Mapped[str | None] = record_column(SHIFT["declared_location"], String(16))
    created_at: Mapped[datetime | None] = record_column(SHIFT["created_at"])
    updated_at: Mapped[datetime | None] = record_column(SHIFT["updated_at"])
    edited_by: Mapped[str | None] = record_column(SHIFT["edited_by"])
    version: Mapped[int] = record_column(SHIFT["version"], Integer())
    recorded_at: Mapped[datetime] = record_column(SHIFT["recorded_at"])

    __table_args__ = (
        Index("ix_shifts_officer_start", "officer_id", "start_at"),
        # Shifts longer than a day (a fortnight's leave as one row): the period's overlap reads
        # look these up apart, so the probe of every claim reads one day back, not a fortnight.
        Index(
            "ix_shifts_long",
            "officer_id",
            "start_at",
            postgresql_where=text(LONG_SHIFT_SQL),
        ).ddl_if(dialect="postgresql"),
    )


class ShiftVersion(Base):
    """Every version of every shift ever received, because roster edits are evidence."""

    __tablename__ = "shift_versions"

    shift_id: Mapped[str] = record_column(SHIFT["shift_id"], primary_key=True)
    version: Mapped[int] = record_column(SHIFT["version"], Integer(), primary_key=True)
    officer_id: Mapped[str] = record_column(SHIFT["officer_id"], index=True)
    start_at: Mapped[datetime] = record_column(SHIFT["start_at"])
    end_at: Mapped[datetime] = record_column(SHIFT["end_at"])
    kind: Mapped[str] = record_column(SHIFT["kind"], String(16))
    station_id: Mapped[str | None] = record_column(SHIFT["station_id"])
    declared_location: Mapped[str | None] = record_column(SHIFT["declared_location"], String(16))
    created_at: Mapped[datetime | None] = record_column(SHIFT["created_at"])
    updated_at: Mapped[datetime | None] = record_column(SHIFT["updated_at"])
    edited_by: Mapped[str | None] = record_column(SHIFT["edited_by"])
    recorded_at: Mapped[datetime] = record_column(SHIFT["recorded_at"])

    # Versions edited after their shift began (late entries, after-the-fact edits): a sliver of
    # the roster, which the roster-integrity period reads without scanning every version.
    __table_args__ = (
        Index(
            "ix_shift_versions_late",
            "start_at",
            postgresql_where=text(LATE_VERSION_SQL),
            sqlite_where=text(LATE_VERSION_SQL),
        ),
    )


class OvertimeClaim(Base):
    """A claim for paid overtime, to be checked against presence evidence."""

    __tablename__ = "overtime_claims"

    claim_id: Mapped[str] = record_column(CLAIM["claim_id"], primary_key=True)
    officer_id: Mapped[str] = record_column(CLAIM["officer_id"])
    start_at: Mapped[datetime] = record_column(CLAIM["start_at"])
    end_at: Mapped[datetime] = record_column(CLAIM["end_at"])
    station_id: Mapped[str | None] = record_column(CLAIM["station_id"])
    submitted_at: Mapped[datetime | None] = record_column(CLAIM["submitted_at"])
    approved_by: Mapped[str | None] = record_column(CLAIM["approved_by"])
    approved_at: Mapped[datetime | None] = record_column(CLAIM["approved_at"])

    __table_args__ = (Index("ix_overtime_officer_start", "officer_id", "start_at"),)


# --- events -----------------------------------------------------------------------------------


class Ping(Base):
    """An on-duty device fix. Partitioned by UTC day on PostgreSQL (tens of millions of rows a day).

    ``h3_cell`` is the H3 cell at geo.cells.STORE_RESOLUTION (12). The primary key (ts, device_id)
    serves idempotent ingest and "one day, everyone" (with the day partition on PostgreSQL; on
    SQLite the table is clustered on it, WITHOUT ROWID); (officer_id, ts) serves "one officer,
    one day". On PostgreSQL that index belongs to each day partition (store.load makes it with the
    partition, or after a bulk load of a new day), so it is declared here for SQLite only.
    """

    __tablename__ = "pings"

    device_id: Mapped[str] = record_column(PING["device_id"], primary_key=True)
    ts: Mapped[datetime] = record_column(PING["ts"], primary_key=True)
    officer_id: Mapped[str] = record_column(PING["officer_id"])
    lat: Mapped[float] = record_column(PING["lat"])
    lon: Mapped[float] = record_column(PING["lon"])
    accuracy_m: Mapped[float | None] = record_column(PING["accuracy_m"])
    source: Mapped[str | None] = record_column(PING["source"], String(8))
    is_mock: Mapped[bool] = record_column(PING["is_mock"])
    h3_cell: Mapped[int] = record_column(PING["h3_cell"])

    __table_args__ = (
        PrimaryKeyConstraint("ts", "device_id"),
        Index("ix_pings_officer_ts", "officer_id", "ts").ddl_if(dialect="sqlite"),
        {"postgresql_partition_by": "RANGE (ts)", "sqlite_with_rowid": False},
    )


class HeldPing(Base):
    """A fix with no covering shift yet, kept at most policy.unrostered_hold_hours."""

    __tablename__ = "held_pings"

    device_id: Mapped[str] = record_column(PING["device_id"], primary_key=True)
    ts: Mapped[datetime] = record_column(PING["ts"], primary_key=True)
    officer_id: Mapped[str] = record_column(PING["officer_id"], index=True)
    lat: Mapped[float] = record_column(PING["lat"])
    lon: Mapped[float] = record_column(PING["lon"])
    accuracy_m: Mapped[float | None] = record_column(PING["accuracy_m"])
    source: Mapped[str | None] = record_column(PING["source"], String(8))
    is_mock: Mapped[bool] = record_column(PING["is_mock"])
    h3_cell: Mapped[int] = record_column(PING["h3_cell"])
    held_at: Mapped[datetime] = mapped_column(Instant())


class Swipe(Base):
    """An on-duty door badge swipe. ``reader_id`` is '' when the file gave none (it is in the key)."""

    __tablename__ = "swipes"

    badge_id: Mapped[str] = record_column(SWIPE["badge_id"], primary_key=True)
    ts: Mapped[datetime] = record_column(SWIPE["ts"], primary_key=True)
    reader_id: Mapped[str] = record_column(SWIPE["reader_id"], primary_key=True)
    officer_id: Mapped[str] = record_column(SWIPE["officer_id"])
    station_id: Mapped[str] = record_column(SWIPE["station_id"])
    direction: Mapped[str] = record_column(SWIPE["direction"], String(8))
    granted: Mapped[bool] = record_column(SWIPE["granted"])

    __table_args__ = (
        Index("ix_swipes_officer_ts", "officer_id", "ts"),
        Index("ix_swipes_ts", "ts"),
    )


class HeldSwipe(Base):
    """A swipe with no covering shift yet, kept at most policy.unrostered_hold_hours."""

    __tablename__ = "held_swipes"

    badge_id: Mapped[str] = record_column(SWIPE["badge_id"], primary_key=True)
    ts: Mapped[datetime] = record_column(SWIPE["ts"], primary_key=True)
    reader_id: Mapped[str] = record_column(SWIPE["reader_id"], primary_key=True)
    officer_id: Mapped[str] = record_column(SWIPE["officer_id"], index=True)
    station_id: Mapped[str] = record_column(SWIPE["station_id"])
    direction: Mapped[str] = record_column(SWIPE["direction"], String(8))
    granted: Mapped[bool] = record_column(SWIPE["granted"])
    held_at: Mapped[datetime] = mapped_column(Instant())


class Visit(Base):
    """An on-duty piece of an operating-system visit (a stay at one place), CONTRACT §2 visits.

    A visit crossing the edge of an on-duty window is stored clipped to it: ``arrived_at`` and
    ``departed_at`` bound the on-duty piece only, so no off-duty time is kept. An open visit
    (reported without a departure) is stored with its assumed end (rules.visits.OPEN_FOR, or the
    window edge) and ``departure_known`` false; a later report of the same visit with its
    departure completes it. Low volume (a few a device a day): not partitioned; the retention
    purge deletes by ``arrived_at``.
    """

    __tablename__ = "visits"

    device_id: Mapped[str] = record_column(VISIT["device_id"], primary_key=True)
    arrived_at: Mapped[datetime] = record_column(VISIT["arrived_at"], primary_key=True)
    officer_id: Mapped[str] = record_column(VISIT["officer_id"])
    departed_at: Mapped[datetime] = record_column(VISIT["departed_at"])
    departure_known: Mapped[bool] = mapped_column(Boolean)
    lat: Mapped[float] = record_column(VISIT["lat"])
    lon: Mapped[float] = record_column(VISIT["lon"])
    accuracy_m: Mapped[float | None] = record_column(VISIT["accuracy_m"])

    __table_args__ = (
        PrimaryKeyConstraint("arrived_at", "device_id"),
        Index("ix_visits_officer_arrived", "officer_id", "arrived_at"),
    )


class HeldVisit(Base):
    """A piece of a visit no shift covers yet, kept at most policy.unrostered_hold_hours."""

    __tablename__ = "held_visits"

    device_id: Mapped[str] = record_column(VISIT["device_id"], primary_key=True)
    arrived_at: Mapped[datetime] = record_column(VISIT["arrived_at"], primary_key=True)
    officer_id: Mapped[str] = record_column(VISIT["officer_id"], index=True)
    departed_at: Mapped[datetime] = record_column(VISIT["departed_at"])
    departure_known: Mapped[bool] = mapped_column(Boolean)
    lat: Mapped[float] = record_column(VISIT["lat"])
    lon: Mapped[float] = record_column(VISIT["lon"])
    accuracy_m: Mapped[float | None] = record_column(VISIT["accuracy_m"])
    held_at: Mapped[datetime] = mapped_column(Instant())


class DeviceReceipt(Base):
    """When the server received a device's on-duty fixes over HTTP, and the newest fix's own
    time: the device clock's offset shows in their difference when a batch is sent promptly
    (store.clock). Only batches received inside the officer's on-duty window are recorded."""

    __tablename__ = "device_receipts"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(Instant(), primary_key=True)
    newest_ts: Mapped[datetime] = mapped_column(Instant())
    fixes: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_device_receipts_received_at", "received_at"),)


class MaskedCount(Base):
    """How many off-duty events were dropped, per local day and kind: the only trace they leave."""

    __tablename__ = "masked_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class MaskedKey(Base):
    """A salted digest of a masked event's natural key, so it is counted once (kept as long as
    raw events)."""

    __tablename__ = "masked_keys"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)


class MaskingSalt(Base):
    """The random salt of this database's masked-key digests (one row)."""

    __tablename__ = "masking_salt"

    salt_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))


class ImportRecord(Base):
    """One import of a file (by content digest), with its outcome counts."""

    __tablename__ = "imports"

    import_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    imported_at: Mapped[datetime] = mapped_column(Instant())
    counts: Mapped[dict[str, Any]] = mapped_column(DOCUMENT)


# --- results ----------------------------------------------------------------------------------


class JobRun(Base):
    """One run of a batch job: when, with what parameters and policy, and how it ended.

    ``owner_*`` name the process running it (host, pid, and on Linux the boot id and the process
    start time, so a reused pid is told apart) and ``heartbeat_at`` is its last sign of life: a
    ``running`` run whose owner is gone or whose heartbeat is stale is marked ``abandoned``.
    """

    __tablename__ = "job_runs"

    run_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(Instant())
    finished_at: Mapped[datetime | None] = mapped_column(Instant())
    params: Mapped[dict[str, Any]] = mapped_column(DOCUMENT)
    counts: Mapped[dict[str, Any] | None] = mapped_column(DOCUMENT)
    policy_version: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    owner_host: Mapped[str | None] = mapped_column(String(255))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_token: Mapped[str | None] = mapped_column(String(80))
    heartbeat_at: Mapped[datetime | None] = mapped_column(Instant())


class DailyResult(Base):
    """One officer's verified attendance on one local day (CONTRACT §6 day row)."""

    __tablename__ = "daily_results"

    officer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    expected_office: Mapped[bool] = mapped_column(Boolean)
    declared_location: Mapped[str | None] = mapped_column(String(16))
    verified_presence_minutes: Mapped[float] = mapped_column(Float)
    verified_office_day: Mapped[bool] = mapped_column(Boolean)
    evidence: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.run_id"))
    computed_at: Mapped[datetime] = mapped_column(Instant())
    details: Mapped[dict[str, Any] | None] = mapped_column(DOCUMENT)


class RecomputeMark(Base):
    """A day whose inputs changed after it was computed (late roster entry, late events)."""

    __tablename__ = "recompute_marks"

    officer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    marked_at: Mapped[datetime] = mapped_column(Instant())
    reason: Mapped[str] = mapped_column(String(200))


class Flag(Base):
    """A lead for a human reviewer, with its evidence, rule version and review status.

    ``fingerprint`` identifies the finding across recomputes, so a rerun keeps the id and status;
    a finding that disappears after corrected data gets ``withdrawn_at`` and is never deleted.
    """

    __tablename__ = "flags"

    flag_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    officer_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(40))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    misconduct: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(DOCUMENT)
    rule_version: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(32))
    raised_at: Mapped[datetime] = mapped_column(Instant())
    last_seen_at: Mapped[datetime] = mapped_column(Instant())
    withdrawn_at: Mapped[datetime | None] = mapped_column(Instant())

    __table_args__ = (
        Index("ix_flags_officer_day", "officer_id", "day"),
        Index("ix_flags_status_code", "status", "code"),
    )


class FlagReview(Base):
    """One change of a flag's review status, with the reviewer's note: the history is kept."""

    __tablename__ = "flag_reviews"

    review_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.flag_id"), index=True)
    at: Mapped[datetime] = mapped_column(Instant())
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    case_ref: Mapped[str | None] = mapped_column(String(200))
    # ``change`` (a status set by one reviewer), ``proposal`` (substantiation proposed, awaiting
    # another investigator) or ``confirmation`` (the proposal confirmed: the flag substantiated).
    kind: Mapped[str] = mapped_column(String(16), server_default=ReviewKind.CHANGE.value)


# --- right of reply ---------------------------------------------------------------------------


class FlagResponse(Base):
    """An officer's answer to one of their flags: a category and a statement, kept as given."""

    __tablename__ = "flag_responses"

    response_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[str] = mapped_column(ForeignKey("flags.flag_id"), index=True)
    officer_id: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(Instant())
    actor: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    statement: Mapped[str] = mapped_column(Text)
    # SHA-256 of the statement (hex): with the flag and category, the answer's natural key, so
    # the same answer sent twice at once is stored once. NULL only on a repeat stored before
    # the key existed (migration 0009 keeps it, outside the key).
    statement_digest: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ux_flag_responses_key", "flag_id", "category", "statement_digest", unique=True),
    )


class DayContest(Base):
    """An officer's contest of one of their days, and its answer (upheld or not, why, by whom)."""

    __tablename__ = "day_contests"

    contest_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    officer_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(Instant())
    actor: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    statement: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(Instant())
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_role: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    # SHA-256 of the statement (hex): with the officer, day and category, the contest's natural
    # key (one row for the same contest sent twice at once); NULL as on FlagResponse.
    statement_digest: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_day_contests_officer_day", "officer_id", "day"),
        Index(
            "ux_day_contests_key", "officer_id", "day", "category", "statement_digest", unique=True
        ),
    )


class Adjustment(Base):
    """A recorded manual change to one officer-day's result, made by upholding a contest.

    ``effect`` is ``verified_office_day`` (the day counts as a verified office day) or
    ``not_expected`` (the day leaves the expected office days). The nightly job applies it to the
    computed result and keeps both, so a report shows the adjustment, never a silent overwrite.
    """

    __tablename__ = "adjustments"

    adjustment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    officer_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    effect: Mapped[str] = mapped_column(String(24))
    contest_id: Mapped[int | None] = mapped_column(ForeignKey("day_contests.contest_id"))
    made_at: Mapped[datetime] = mapped_column(Instant())
    made_by: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_adjustments_day_officer", "day", "officer_id"),)


class CaseClosure(Base):
    """A case an investigator closed: reads made under it become visible to the officer."""

    __tablename__ = "case_closures"

    case_ref: Mapped[str] = mapped_column(String(200), primary_key=True)
    closed_at: Mapped[datetime] = mapped_column(Instant())
    closed_by: Mapped[str] = mapped_column(String(200))


class AuditEntry(Base):
    """An append-only, hash-chained record of who read or changed what, when and why."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(Instant(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    officer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    case_ref: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(DOCUMENT)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
