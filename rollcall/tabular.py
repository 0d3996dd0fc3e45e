"""Tables out: CSV and .xlsx from Polars frames, one way for the service and the command line.

Every text cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) is written with a leading apostrophe, the OWASP advice
against CSV injection; numbers stay numbers. Booleans are ``true``/``false`` in CSV and real
booleans in .xlsx, where integer columns have the number format ``0``, floats ``0.0000`` and
dates ``yyyy-mm-dd``; nested values (lists, structs) are written as compact JSON text.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import orjson
import polars as pl
import rustpy_xlsxwriter as rx

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv"
DATE_FORMAT = "yyyy-mm-dd"
INTEGER_FORMAT = "0"
FLOAT_FORMAT = "0.0000"
# Sheets up to this many rows get their columns fitted to the text.
AUTOFIT_ROWS = 2000
# Excel's limit on a sheet name, and characters it refuses in one.
_SHEET_NAME_MAX = 31
_SHEET_FORBIDDEN = str.maketrans(dict.fromkeys("[]:*?/\\", "_"))


def escape_cell(value: str) -> str:
    """``value`` made safe to open in a spreadsheet: a leading apostrophe when it starts with a
    character that would make it a formula; anything else unchanged."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _json_text(value: object) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def safe_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with text escaped (escape_cell) and nested columns as JSON text; other types
    kept, so a writer can still type the cells."""
    exprs: list[pl.Expr | pl.Series] = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype.is_nested() or dtype == pl.Object:
            texts = [_json_text(v) for v in frame[name].to_list()]
            exprs.append(pl.Series(name, texts, dtype=pl.Utf8))
        elif dtype in (pl.Utf8, pl.Categorical, pl.Enum):
            text = col.cast(pl.Utf8)
            risky = text.str.contains(r"^[=+\-@\t\r]")
            exprs.append(pl.when(risky).then(pl.lit("'") + text).otherwise(text).alias(name))
    return frame.with_columns(exprs) if exprs else frame


def to_csv(frame: pl.DataFrame) -> bytes:
    """UTF-8 CSV with a header row; booleans ``true``/``false``, dates ISO 8601, nulls empty."""
    buffer = io.BytesIO()
    safe_frame(frame).write_csv(buffer)
    return buffer.getvalue()


def _sheet_name(name: str) -> str:
    return name.translate(_SHEET_FORBIDDEN)[:_SHEET_NAME_MAX] or "Sheet"


def _column_formats(frame: pl.DataFrame) -> dict[str, rx.Format]:
    """The number format of each date column (a day, without a time of day) and of each integer
    column (a whole number: a workbook stores every number as a double)."""
    day = rx.Format().set_num_format(DATE_FORMAT)
    whole = rx.Format().set_num_format(INTEGER_FORMAT)
    formats: dict[str, rx.Format] = {}
    for name, dtype in frame.schema.items():
        if dtype == pl.Date:
            formats[name] = day
        elif dtype.is_integer():
            formats[name] = whole
    return formats


def to_xlsx(sheets: Mapping[str, pl.DataFrame]) -> bytes:
    """An .xlsx workbook with one sheet per frame: typed columns (numbers, booleans, dates), a
    bold header row frozen in place, and no cell ever written as a formula or link.

    Written by rustpy-xlsxwriter (rust_xlsxwriter under Python, reading the frame's Arrow
    buffers): XlsxWriter in Python spent about 10 us a cell, 5 s for the month of 46,000
    officers. Small workbooks get their columns fitted to the text."""
    safe: list[tuple[str, Any]] = [
        (_sheet_name(name), safe_frame(frame)) for name, frame in sheets.items()
    ]
    buffer = io.BytesIO()
    rx.write_worksheets(
        safe,
        buffer,
        freeze_panes={"general": {"row": 1, "col": 0}},
        bold_headers=True,
        float_format=FLOAT_FORMAT,
        autofit=max((frame.height for _, frame in safe), default=0) <= AUTOFIT_ROWS,
        column_formats={name: _column_formats(frame) for name, frame in safe},
    )
    return buffer.getvalue()
