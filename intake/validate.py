"""Row validation of CONTRACT §2 import records, vectorised: typed values and per-cell errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from geo.fences import ForceArea
from rules.clock import EARLIEST, INSTANT, LATEST, SUPPORTED_RANGE, parse_instants
from rules.records import RECORDS, Record
from rules.records import Field as RecordField

ColumnType = Literal["str", "float", "bool", "instant", "enum"]

# Text must be printable: a NUL cannot be stored by PostgreSQL, other control characters forge
# lines in logs and CSV files.
CONTROL = r"[\x00-\x1f\x7f]"
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


@dataclass(frozen=True)
class Column:
    """One column of an import kind: its type, whether it is required, its allowed values."""

    name: str
    type: ColumnType = "str"
    required: bool = False
    choices: tuple[str, ...] = ()
    max_len: int = 64  # characters, as the column stores (ids are String(64))


@dataclass(frozen=True)
class Kind:
    """An import kind (CONTRACT §2): its columns and its natural key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    defaults: dict[str, object] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _column_type(f: RecordField) -> ColumnType:
    if f.values is not None:
        return "enum"
    if f.dtype == INSTANT:
        return "instant"
    if f.dtype == pl.Float64():
        return "float"
    if f.dtype == pl.Boolean():
        return "bool"
    return "str"


def kind_of(record: Record) -> Kind:
    """The import kind of ``record``: its imported fields as file columns."""
    fields = record.imported
    return Kind(
        record.name,
        tuple(Column(f.column, _column_type(f), f.required, f.allowed, f.max_len) for f in fields),
        tuple(record[k].column for k in record.key),
        {f.column: f.default for f in fields if f.default is not None},
    )


KINDS: dict[str, Kind] = {name: kind_of(record) for name, record in RECORDS.items()}

ERROR_SCHEMA = {"_row": pl.UInt32, "column": pl.Utf8, "reason": pl.Utf8}


@dataclass(frozen=True)
class Validated:
    """The rows that passed (typed, with their ``_row`` position) and one error per failed cell."""

    good: pl.DataFrame
    errors: pl.DataFrame  # _row, column, reason


class MissingColumnsError(ValueError):
    """The file lacks required columns: nothing in it can be loaded."""

    def __init__(self, kind: str, missing: list[str]) -> None:
        self.kind = kind
        self.missing = missing
        super().__init__(f"missing required column(s) for {kind}: {', '.join(missing)}")


def _first_reason(*reasons: pl.Series) -> pl.Series:
    """Per row, the first non-null reason of several checks of one column."""
    return pl.select(pl.coalesce(reasons)).to_series().alias(reasons[0].name)


def _nulls(name: str, length: int) -> pl.Series:
    """A text column of ``length`` nulls: no reason for any row."""
    return pl.repeat(None, length, dtype=pl.Utf8, eager=True).alias(name)


def _text_problems(col: Column, raw: pl.Series) -> pl.Series | None:
    """Why a text cell cannot be stored (control characters, too long), null where it can; None
    when every cell can."""
    text = raw.cast(pl.Utf8)
    control = text.str.contains(CONTROL)
    # A value is never longer in characters than in bytes: most columns need no count.
    long = text.str.len_bytes() > col.max_len
    if long.any():
        long = text.str.len_chars() > col.max_len
    if not (control.any() or long.any()):
        return None
    return (
        pl.select(
            pl.when(control)
            .then(pl.lit("holds a control character"))
            .when(long)
            .then(pl.lit(f"longer than {col.max_len} characters"))
            .otherwise(pl.lit(None, pl.Utf8))
        )
        .to_series()
        .alias(raw.name)
    )


def _in_range(values: pl.Series, reasons: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Instants outside [EARLIEST, LATEST) become errors."""
    out = values.is_not_null() & ~values.is_between(EARLIEST, LATEST, closed="left")
    if not out.any():
        return values, reasons
    why = pl.select(
        pl.when(out).then(pl.lit(f"outside {SUPPORTED_RANGE}")).otherwise(pl.lit(None, pl.Utf8))
    ).to_series()
    kept = pl.select(pl.when(out).then(None).otherwise(values)).to_series().alias(values.name)
    return kept, _first_reason(reasons, why)


def _typed(col: Column, raw: pl.Series, tz: str) -> tuple[pl.Series, pl.Series]:
    """Parse one column; returns (typed values, error reasons) with null where not applicable."""
    values, reasons = _parsed(col, raw, tz)
    if raw.dtype in (pl.Utf8, pl.Categorical) and col.type in ("str", "enum"):
        problems = _text_problems(col, raw)
        if problems is not None:
            reasons = _first_reason(problems, reasons)
    if col.type == "instant":
        return _in_range(values, reasons)
    return values, reasons


def _parsed(col: Column, raw: pl.Series, tz: str) -> tuple[pl.Series, pl.Series]:
    """One column typed, with the reasons of values that are not of the column's type."""
    text_types = (pl.Utf8, pl.Categorical, pl.Null)
    if raw.dtype in text_types:
        raw = _blank_as_null(raw.cast(pl.Utf8).str.strip_chars().alias(raw.name))
    if col.type == "instant":
        if raw.dtype == pl.Datetime:
            dt = raw
            if getattr(raw.dtype, "time_zone", None) is None:
                dt = raw.cast(pl.Utf8)
            else:
                return raw.cast(INSTANT), _nulls(raw.name, raw.len())
            raw = dt
        return parse_instants(raw.cast(pl.Utf8), tz)
    if col.type == "float":
        return _floats(raw)
    if col.type == "bool":
        return _bools(raw)
    text = raw.cast(pl.Utf8)
    if col.type == "enum":
        known = text.is_in(col.choices)
        if (known | text.is_null()).all():
            # Every value is one of the (lower case) choices: already as lower case makes it.
            return text, _nulls(raw.name, raw.len())
        lowered = text.str.to_lowercase()
        bad = lowered.is_not_null() & ~lowered.is_in(col.choices)
        reason = pl.select(
            pl.when(bad)
            .then(pl.lit(f"must be one of {', '.join(col.choices)}"))
            .otherwise(pl.lit(None, pl.Utf8))
        ).to_series()
        return lowered.alias(raw.name), reason.alias(raw.name)
    return text, _nulls(raw.name, raw.len())


def _blank_as_null(text: pl.Series) -> pl.Series:
    """Stripped text with empty values as null."""
    blank = text == ""
    if not blank.any():
        return text
    return pl.select(pl.when(blank).then(None).otherwise(text)).to_series().alias(text.name)


def _floats(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A float column and its reasons ("not a number"). Text comes stripped (_parsed)."""
    if raw.dtype.is_numeric():
        values = raw.cast(pl.Float64)
        bad = values.is_nan()
    else:
        text = raw.cast(pl.Utf8)
        if raw.dtype != pl.Utf8:
            text = text.str.strip_chars()
        values = text.cast(pl.Float64, strict=False)
        bad = (values.is_null() & text.is_not_null()) | values.is_nan()
    if not bad.any():
        return values.alias(raw.name), _nulls(raw.name, raw.len())
    reason = pl.select(
        pl.when(bad).then(pl.lit("not a number")).otherwise(pl.lit(None, pl.Utf8))
    ).to_series()
    values = pl.select(pl.when(bad).then(None).otherwise(values)).to_series()
    return values.alias(raw.name), reason.alias(raw.name)


def _bools(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A true/false column and its reasons ("not true/false"). Text comes stripped (_parsed)."""
    if raw.dtype == pl.Boolean:
        return raw, _nulls(raw.name, raw.len())
    text = raw.cast(pl.Utf8)
    if raw.dtype != pl.Utf8:
        text = text.str.strip_chars()
    values = _words(text)
    if values.null_count() != text.null_count():
        # Some value is not a (lower case) word as it is: try it in lower case.
        values = _words(text.str.to_lowercase())
    unknown = text.is_not_null() & values.is_null()
    if not unknown.any():
        return values.alias(raw.name), _nulls(raw.name, raw.len())
    reason = pl.select(
        pl.when(unknown).then(pl.lit("not true/false")).otherwise(pl.lit(None, pl.Utf8))
    ).to_series()
    return values.alias(raw.name), reason.alias(raw.name)


_BOOL_WORDS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


def _words(text: pl.Series) -> pl.Series:
    """True or false for each of TRUE_WORDS or FALSE_WORDS in ``text``, null for anything else."""
    return text.replace_strict(_BOOL_WORDS, default=None, return_dtype=pl.Boolean)


def _row_checks(kind: str, frame: pl.DataFrame, area: ForceArea) -> list[pl.DataFrame]:
    """Checks across columns of one kind; each returns (_row, column, reason) rows."""
    checks: list[tuple[pl.Expr, str, str]] = []
    if kind in ("pings", "visits"):
        lat, lon = pl.col("lat"), pl.col("lon")
        in_area = lon.is_between(area.min_lng, area.max_lng) & lat.is_between(
            area.min_lat, area.max_lat
        )
        swapped_in_area = lat.is_between(area.min_lng, area.max_lng) & lon.is_between(
            area.min_lat, area.max_lat
        )
        checks += [
            (~lat.is_between(-90.0, 90.0), "lat", "latitude outside -90..90"),
            (~lon.is_between(-180.0, 180.0), "lon", "longitude outside -180..180"),
            (
                lat.is_between(-90.0, 90.0) & ~in_area & swapped_in_area,
                "lat",
                "lat and lon look swapped (the point lands in the force's area only with them exchanged)",
            ),
            (pl.col("accuracy_m") <= 0, "accuracy_m", "must be greater than 0 metres"),
        ]
    if kind == "visits":
        checks.append(
            (
                pl.col("departed_at") <= pl.col("arrived_at"),
                "departed_at",
                "is at or before arrived_at",
            )
        )
    if kind in ("roster", "overtime"):
        checks.append((pl.col("end") <= pl.col("start"), "end", "ends at or before its start"))
    if kind in ("devices", "badges"):
        checks.append(
            (pl.col("valid_to") <= pl.col("valid_from"), "valid_to", "is at or before valid_from")
        )
    out = []
    for predicate, column, reason in checks:
        hits = frame.filter(predicate.fill_null(False)).select(
            "_row", column=pl.lit(column), reason=pl.lit(reason)
        )
        if hits.height:
            out.append(hits)
    return out


def validate(
    kind_name: str,
    frame: pl.DataFrame,
    *,
    tz: str,
    area: ForceArea | None = None,
) -> Validated:
    """Type and check every row of ``frame`` for ``kind_name``.

    ``frame`` has CONTRACT column names (others are ignored) and a ``_row`` column numbering the
    rows. Raises MissingColumnsError when a required column is absent. Error reasons never repeat a
    coordinate value.
    """
    kind = KINDS[kind_name]
    area = area or ForceArea()
    header = {c.strip() for c in frame.columns}
    missing = [c.name for c in kind.columns if c.required and c.name not in header]
    if missing:
        raise MissingColumnsError(kind_name, missing)
    frame = frame.rename({c: c.strip() for c in frame.columns if c != c.strip()})
    typed: dict[str, pl.Series] = {"_row": frame["_row"]}
    errors: list[pl.DataFrame] = []
    for col in kind.columns:
        if col.name in frame.columns:
            values, reasons = _typed(col, frame[col.name], tz)
        else:
            values = pl.Series(col.name, [None] * frame.height)
            reasons = _nulls(col.name, frame.height)
        if col.name in kind.defaults:
            values = values.fill_null(pl.lit(kind.defaults[col.name]))
        typed[col.name] = values.alias(col.name)
        if reasons.null_count() == reasons.len() and not (col.required and values.null_count()):
            continue
        missing_value = values.is_null() & reasons.is_null() if col.required else None
        cell = pl.DataFrame({"_row": frame["_row"], "reason": reasons})
        if missing_value is not None:
            cell = cell.with_columns(
                reason=pl.when(missing_value)
                .then(pl.lit("required value is empty"))
                .otherwise(pl.col("reason"))
            )
        bad = cell.filter(pl.col("reason").is_not_null())
        if bad.height:
            errors.append(bad.select("_row", column=pl.lit(col.name), reason="reason"))
    out = pl.DataFrame(typed)
    errors += _row_checks(kind_name, out, area)
    err = (
        pl.concat([e.cast(ERROR_SCHEMA) for e in errors])  # type: ignore[arg-type]
        if errors
        else pl.DataFrame(schema=ERROR_SCHEMA)
    )
    good = out.join(err.select("_row").unique(), on="_row", how="anti") if err.height else out
    return Validated(good=good, errors=err.sort("_row", "column"))


def dedupe(kind_name: str, good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Split rows sharing a natural key within one batch.

    Returns (first rows, exact repeats, conflicting repeats): a later row equal to the first is a
    duplicate; one with the same key but other values is a conflict. The roster keeps every row
    instead, in file order: a later row with the same shift id is an edit, stored as the next
    version with its own editor (intake.roster counts a row equal to the version before it as a
    duplicate).
    """
    kind = KINDS[kind_name]
    key = list(kind.key)
    values = [c for c in kind.names if c in good.columns]
    if kind_name == "roster":
        return good, good.clear(), good.clear()
    is_first = good.select(pl.struct(key).is_first_distinct()).to_series()
    if is_first.all():
        return good, good.clear(), good.clear()
    first, rest = good.filter(is_first), good.filter(~is_first)
    matched = rest.join(first.select(values), on=values, how="semi", nulls_equal=True)
    conflicts = rest.join(matched.select("_row"), on="_row", how="anti")
    return first, matched, conflicts
