"""JSON batch items to the string frame intake.pipeline takes, with per-item shape errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
import polars as pl

from api.errors import BadRequest, PayloadTooLarge, Unprocessable
from intake.report import IngestReport
from intake.validate import KINDS, Column

MAX_ITEMS = 10_000
BODY_KEYS = {"pings": "pings", "swipes": "swipes", "visits": "visits", "roster": "shifts"}


@dataclass
class ParsedBatch:
    """The items that have a usable shape, as strings, and the positions of the others."""

    frame: pl.DataFrame
    positions: list[int]  # frame row -> index in the request
    errors: list[tuple[int, str | None, str]] = field(default_factory=list)
    total: int = 0


def _text(value: Any) -> str | None:
    """A JSON scalar as the text a file would hold; raises TypeError for arrays and objects."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError


def parse_batch(kind: str, body: bytes) -> ParsedBatch:
    """Parse ``{"<key>": [items...]}``; each item an object with the CONTRACT §2 columns.

    Raises BadRequest for a body that is not that shape, PayloadTooLarge above MAX_ITEMS items.
    Items that are not objects or hold arrays/objects as values are reported, not stored.
    """
    key = BODY_KEYS[kind]
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("the body is not valid JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise Unprocessable(f'the body must be {{"{key}": [...]}}')
    items: list[Any] = doc[key]
    if len(items) > MAX_ITEMS:
        raise PayloadTooLarge(
            f"a batch holds at most {MAX_ITEMS:,} items; this one has {len(items):,}: split it"
        )
    columns = KINDS[kind].columns
    names = [c.name for c in columns]
    if all(type(item) is dict for item in items):
        typed = _typed_columns(items, columns)
        if typed is not None:
            return ParsedBatch(frame=typed, positions=list(range(len(items))), total=len(items))
        try:
            # Polars turns numbers and booleans into the same text as _text.
            frame = pl.from_dicts(items, schema=dict.fromkeys(names, pl.Utf8), strict=False)
        except (pl.exceptions.PolarsError, TypeError, ValueError):
            pass  # an array or object somewhere: find it item by item below
        else:
            return ParsedBatch(frame=frame, positions=list(range(len(items))), total=len(items))
    return _parse_items(items, names)


# The JSON values a column takes as they are, by the column's type: anything else in a column
# (a number for an id, text for a coordinate, an array) sends the batch through the text path.
_NATIVE: dict[str, tuple[type, ...]] = {
    "float": (float, int),
    "bool": (bool,),
    "str": (str,),
    "enum": (str,),
    "instant": (str,),
}
_DTYPES = {"float": pl.Float64, "bool": pl.Boolean}
_EXACT_INT = 1 << 53  # integers a Float64 holds exactly


def _typed_columns(items: list[dict[str, Any]], columns: tuple[Column, ...]) -> pl.DataFrame | None:
    """The items as one typed column per field, straight from the decoded JSON: coordinates as
    Float64, flags as Boolean, the rest as text, as intake.validate takes them (as from Parquet).

    None when a value is not of its column's JSON type (then the text path converts it as a file
    would hold it, with the same outcome for each item).
    """
    series = []
    for col in columns:
        values = [item.get(col.name) for item in items]
        allowed = _NATIVE[col.type]
        kinds = {type(v) for v in values}
        kinds.discard(type(None))
        if not kinds.issubset(allowed):
            return None
        if int in kinds and any(type(v) is int and abs(v) >= _EXACT_INT for v in values):
            return None
        series.append(pl.Series(col.name, values, dtype=_DTYPES.get(col.type, pl.Utf8)))
    return pl.DataFrame(series)


def _parse_items(items: list[Any], names: list[str]) -> ParsedBatch:
    """Item by item, reporting items that are not objects and values that are not scalars."""
    columns: dict[str, list[str | None]] = {n: [] for n in names}
    positions: list[int] = []
    errors: list[tuple[int, str | None, str]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append((index, None, "an item must be a JSON object"))
            continue
        try:
            values = [_text(item.get(n)) for n in names]
        except TypeError:
            bad = next(n for n in names if isinstance(item.get(n), list | dict))
            errors.append((index, bad, "must be a string, number, boolean or null"))
            continue
        for n, v in zip(names, values, strict=True):
            columns[n].append(v)
        positions.append(index)
    frame = pl.DataFrame({n: pl.Series(n, columns[n], dtype=pl.Utf8) for n in names})
    return ParsedBatch(frame=frame, positions=positions, errors=errors, total=len(items))


def merge_report(parsed: ParsedBatch, report: IngestReport) -> dict[str, Any]:
    """The response body: counts per outcome and every rejected item (request index, field, reason).

    Nothing else about any item is returned: masked items appear only in the count.
    """
    errors = [(i, f, r) for i, f, r in parsed.errors]
    errors += [(parsed.positions[e.index], e.column, e.reason) for e in report.errors]
    errors.sort(key=lambda e: (e[0], e[1] or ""))
    counts = dict(report.counts)
    counts["rejected"] = counts.get("rejected", 0) + len({i for i, _, _ in parsed.errors})
    return {
        "accepted": counts.get("accepted", 0),
        "duplicate": counts.get("duplicate", 0),
        "masked": counts.get("masked", 0),
        "held": counts.get("held", 0),
        "rejected": counts["rejected"],
        "errors": [{"index": i, "field": f, "reason": r} for i, f, r in errors],
    }
