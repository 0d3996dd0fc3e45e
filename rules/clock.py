"""Instants and local days: ISO 8601 parsing with the force's zone, day bounds across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

DEFAULT_TIMEZONE = "Europe/London"
INSTANT = pl.Datetime("us", "UTC")
# Every instant and day read from outside lies in [EARLIEST, LATEST): dates at the ends of the
# calendar (0001-01-01, 9999-12-31) overflow day arithmetic and partitioning, and no record of
# the force is from then.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
SUPPORTED_RANGE = f"{EARLIEST.date()}..{(LATEST - timedelta(days=1)).date()}"

_ISO = (
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(?:\.\d{1,9})?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)


class TimeParseError(ValueError):
    """A single timestamp that is not ISO 8601, or a local time that does not exist or is ambiguous."""


_FAST_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"


def parse_instants(values: pl.Series, tz: str = DEFAULT_TIMEZONE) -> tuple[pl.Series, pl.Series]:
    """Parse ISO 8601 strings into UTC instants, vectorised.

    With an offset (or Z) a value is taken as given; without one it is local time in ``tz``.
    Returns ``(instants, errors)``: ``instants`` is Datetime(us, UTC) with null where the value
    failed, ``errors`` is a string reason where it failed and null where it parsed. A local time in
    the spring-forward gap or the repeated autumn hour is an error, never a guess. Nulls in
    ``values`` stay null with no error (the caller decides whether the column is required).
    """
    text = values.cast(pl.Utf8).str.strip_chars()
    # Fast path: the common full form with an offset or Z; everything else takes the general path.
    fast = text.str.to_datetime(_FAST_FORMAT, time_unit="us", strict=False).dt.convert_time_zone(
        "UTC"
    )
    pending = fast.is_null() & text.is_not_null()
    if not pending.any():
        return fast.cast(INSTANT).alias(values.name), pl.Series(
            values.name, [None] * len(values), pl.Utf8
        )
    slow_idx = pending.arg_true()
    slow_instants, slow_errors = _parse_general(text.gather(slow_idx), tz)
    instants = fast.cast(INSTANT).scatter(slow_idx, slow_instants)
    errors = pl.Series(values.name, [None] * len(values), pl.Utf8).scatter(slow_idx, slow_errors)
    return instants.alias(values.name), errors.alias(values.name)


def _parse_general(text: pl.Series, tz: str) -> tuple[pl.Series, pl.Series]:
    """The general ISO 8601 path of :func:`parse_instants` (missing seconds, no offset, etc.)."""
    frame = pl.DataFrame({"raw": text}).with_columns(
        parts=pl.col("raw").str.extract_groups(_ISO),
    )
    frame = frame.with_columns(
        d=pl.col("parts").struct.field("1"),
        hm=pl.col("parts").struct.field("2"),
        sec=pl.col("parts").struct.field("3").fill_null(":00"),
        off=pl.col("parts").struct.field("4"),
    ).with_columns(
        local_text=pl.concat_str([pl.col("d"), pl.lit("T"), pl.col("hm"), pl.col("sec")]),
        off_norm=pl.col("off")
        .str.replace(r"^[Zz]$", "+00:00")
        .str.replace(r"^([+-]\d{2})(\d{2})$", "${1}:${2}"),
    )
    naive = frame["local_text"].str.to_datetime(
        format="%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False
    )
    frame = frame.with_columns(naive=naive)
    with_offset = (
        pl.concat_str([pl.col("local_text"), pl.col("off_norm")])
        .str.to_datetime(format="%Y-%m-%dT%H:%M:%S%.f%:z", time_unit="us", strict=False)
        .dt.convert_time_zone("UTC")
    )
    local_strict = (
        pl.col("naive")
        .dt.replace_time_zone(tz, ambiguous="null", non_existent="null")
        .dt.convert_time_zone("UTC")
    )
    local_earliest = pl.col("naive").dt.replace_time_zone(
        tz, ambiguous="earliest", non_existent="null"
    )
    frame = frame.with_columns(
        instant=pl.when(pl.col("off").is_not_null()).then(with_offset).otherwise(local_strict),
        earliest=local_earliest,
    )
    reason = (
        pl.when(pl.col("raw").is_null())
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(pl.col("parts").struct.field("1").is_null() | pl.col("naive").is_null())
        .then(pl.lit("not an ISO 8601 timestamp"))
        .when(pl.col("instant").is_not_null())
        .then(pl.lit(None, dtype=pl.Utf8))
        .when(pl.col("off").is_not_null())
        .then(pl.lit("invalid UTC offset"))
        .when(pl.col("earliest").is_not_null())
        .then(pl.lit(f"ambiguous local time in {tz} (repeated hour); give a UTC offset"))
        .otherwise(pl.lit(f"local time does not exist in {tz} (clocks skip it); give a UTC offset"))
    )
    out = frame.select(instant=pl.col("instant").cast(INSTANT), reason=reason)
    return out["instant"], out["reason"]


def parse_instant(value: str | datetime, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """Parse one timestamp by the same rules as :func:`parse_instants`; aware datetimes pass through.

    Raises TimeParseError with the reason. Returns an aware datetime in UTC.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.isoformat()
        else:
            return value.astimezone(UTC)
    instants, errors = parse_instants(pl.Series("ts", [value], dtype=pl.Utf8), tz)
    if errors[0] is not None:
        raise TimeParseError(f"{value!r}: {errors[0]}")
    result: datetime = instants[0]
    return result


def day_bounds(day: date, tz: str = DEFAULT_TIMEZONE) -> tuple[datetime, datetime]:
    """The UTC instants at which local ``day`` starts and the next day starts (23, 24 or 25 h apart)."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_date(instants: pl.Expr, tz: str = DEFAULT_TIMEZONE) -> pl.Expr:
    """The calendar day in ``tz`` of each UTC instant."""
    return instants.dt.convert_time_zone(tz).dt.date()


def iso_local(instant: datetime, tz: str = DEFAULT_TIMEZONE) -> str:
    """ISO 8601 with the zone's offset, e.g. 2026-10-25T01:30:00+01:00."""
    if instant.tzinfo is None:
        raise TimeParseError("naive datetime given where an instant is required")
    return instant.astimezone(ZoneInfo(tz)).isoformat()


def days_between(first: date, last: date) -> list[date]:
    """Every calendar day from ``first`` to ``last`` inclusive."""
    if last < first:
        raise ValueError(f"period ends ({last}) before it starts ({first})")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def period_bounds(
    start_text: str, end_text: str, tz: str = DEFAULT_TIMEZONE, *, max_days: int
) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a period given as local days (``end_text`` inclusive) or
    ISO 8601 instants (``end_text`` exclusive), at most ``max_days`` of the force's calendar
    (a month with a 25-hour day still counts as its days). Raises ValueError saying which bound
    is wrong."""

    def bound(value: str, name: str, *, end: bool) -> datetime:
        wrong = f"'{name}' must be a date (YYYY-MM-DD) or an ISO 8601 instant"
        if len(value) == 10:
            try:
                day = date.fromisoformat(value)
            except ValueError as exc:
                raise ValueError(wrong) from exc
            if not EARLIEST.date() <= day < LATEST.date():
                raise ValueError(f"'{name}' must be a day in {SUPPORTED_RANGE}")
            bounds = day_bounds(day, tz)
            return bounds[1] if end else bounds[0]
        try:
            instant = parse_instant(value, tz)
        except (ValueError, OverflowError) as exc:
            raise ValueError(wrong) from exc
        if not EARLIEST <= instant < LATEST:
            raise ValueError(f"'{name}' must be an instant in {SUPPORTED_RANGE}")
        return instant

    start = bound(start_text, "from", end=False)
    end = bound(end_text, "to", end=True)
    if end <= start:
        raise ValueError("'to' is not after 'from'")
    zone = ZoneInfo(tz)
    wall = end.astimezone(zone).replace(tzinfo=None) - start.astimezone(zone).replace(tzinfo=None)
    if wall > timedelta(days=max_days):
        raise ValueError(f"a timeline covers at most {max_days} days")
    return start, end
