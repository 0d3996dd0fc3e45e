"""Content negotiation: which representation the Accept header asks for, and tabular responses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from fastapi import Request
from fastapi.responses import Response

from api.errors import ApiError, JsonResponse
from api.schemas import ErrorBody
from rollcall.tabular import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, to_csv, to_xlsx

JSON = "application/json"
GEOJSON = "application/geo+json"
PDF = "application/pdf"
HTML = "text/html"
CSV = CSV_MEDIA_TYPE
XLSX = XLSX_MEDIA_TYPE
TABULAR = (JSON, CSV, XLSX)


NOT_ACCEPTABLE: dict[str, Any] = {
    "model": ErrorBody,
    "description": "The Accept header names no representation this endpoint has",
}


class GeoJsonResponse(JsonResponse):
    """JSON sent as application/geo+json."""

    media_type = GEOJSON


class NotAcceptable(ApiError):
    """The Accept header names no representation this endpoint has."""

    status, code = 406, "not_acceptable"


def _ranges(accept: str) -> list[tuple[str, float, int]]:
    """(media range, q, position) of each entry of an Accept header; malformed q counts as 0."""
    out: list[tuple[str, float, int]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        out.append((media.lower(), q, position))
    return out


def _matches(media_range: str, offered: str) -> bool:
    if media_range in ("*/*", offered):
        return True
    major, _, minor = media_range.partition("/")
    return minor == "*" and offered.startswith(major + "/")


def choose(request: Request, offered: Sequence[str]) -> str:
    """The representation to send: the offered media type with the highest q in the request's
    Accept header (ties: the earlier in Accept, then the earlier in ``offered``). No Accept
    header means the first offered (JSON). 406 when nothing offered is acceptable."""
    accept = request.headers.get("accept", "").strip()
    if not accept:
        return offered[0]
    best: tuple[float, int, int] | None = None
    chosen = offered[0]
    for media_range, q, position in _ranges(accept):
        if q <= 0:
            continue
        for rank, media in enumerate(offered):
            # a specific range outranks a wildcard that matches the same type at equal q
            specific = 0 if media_range == media else 1
            key = (-q, specific * 1000 + position, rank)
            if _matches(media_range, media) and (best is None or key < best):
                best, chosen = key, media
    if best is None:
        raise NotAcceptable(f"this endpoint answers {', '.join(offered)}")
    return chosen


def tabular_response(media: str, sheets: Mapping[str, pl.DataFrame], filename: str) -> Response:
    """A CSV (the first sheet) or .xlsx (every sheet) download named ``filename`` plus extension."""
    if media == CSV:
        first = next(iter(sheets.values()))
        return Response(
            to_csv(first),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return Response(
        to_xlsx(sheets),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )


def tabular_content(json_model: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry of a 200 that also answers CSV and .xlsx."""
    return {
        200: {
            "description": (
                f"{json_model} as JSON; or, by Accept, a CSV (text/csv) or a workbook (xlsx) of "
                "the same rows. Text cells that a spreadsheet would run as a formula start "
                "with an apostrophe."
            ),
            "content": {
                CSV: {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        406: NOT_ACCEPTABLE,
    }
