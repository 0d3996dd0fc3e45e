"""The printable case file: a signed timeline export rendered as PDF (fpdf2) or HTML.

Both are drawn from the signed export itself, never from an unsigned document: the day summary,
the timeline, the flags with their evidence and review history, a map of station outlines and
away hexagons (no basemap), and the signature block with how to check it. The PDF carries the
signed JSON as an attached file and the HTML in a script element, so either can be verified
with ``rollcall timeline verify``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from geo.geojson import timeline_collection

ATTACHMENT = "signed-export.json"
# Map colours (RGB): stations the officer was at, away cells.
_PRESENT = (31, 119, 180)
_AWAY = (230, 126, 34)
_MAP_W, _MAP_H = 180.0, 110.0  # mm on the PDF page; the SVG uses the same aspect ratio


@dataclass(frozen=True)
class Shape:
    """One outline to draw: rings of (x, y) in map units (0..1 across, y downwards)."""

    rings: list[list[tuple[float, float]]]
    kind: str  # "present" or "away"
    title: str


def _rings(geometry: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
    polygons = (
        [geometry["coordinates"]]
        if geometry["type"] == "Polygon"
        else list(geometry["coordinates"])
    )
    return [[(float(x), float(y)) for x, y in polygon[0]] for polygon in polygons]


def map_shapes(
    document: Mapping[str, Any], fences: Mapping[str, shapely.MultiPolygon]
) -> list[Shape]:
    """The stations the timeline names and its away hexagons, projected into a unit box that
    keeps their shape (equirectangular, scaled by the cosine of the mid latitude)."""
    collection = timeline_collection(document["timeline"], fences)
    raw: list[tuple[list[list[tuple[float, float]]], str, str]] = []
    seen: set[str] = set()
    for feature in collection["features"]:
        geometry, props = feature["geometry"], feature["properties"]
        if geometry is None:
            continue
        key = str(props.get("station_id") or props.get("h3_cell"))
        if key in seen:
            continue
        seen.add(key)
        kind = "away" if props["type"] == "away" else "present"
        title = f"cell {key}" if kind == "away" else f"station {key}"
        raw.append((_rings(geometry), kind, title))
    points = [p for rings, _, _ in raw for ring in rings for p in ring]
    if not points:
        return []
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    kx = math.cos(math.radians((min(ys) + max(ys)) / 2))
    width = max((max(xs) - min(xs)) * kx, 1e-9)
    height = max(max(ys) - min(ys), 1e-9)
    scale = 0.9 / max(width / (_MAP_W / _MAP_H), height)
    ox = 0.5 - (max(xs) - min(xs)) * kx * scale / 2 / (_MAP_W / _MAP_H)
    oy = 0.5 - height * scale / 2

    def project(x: float, y: float) -> tuple[float, float]:
        return (
            ox + (x - min(xs)) * kx * scale / (_MAP_W / _MAP_H),
            oy + (max(ys) - y) * scale,
        )

    return [
        Shape([[project(x, y) for x, y in ring] for ring in rings], kind, title)
        for rings, kind, title in raw
    ]


def _minutes(value: float) -> str:
    return f"{int(value // 60)} h {int(value % 60):02d}"


def _when(text: str | None) -> str:
    return "" if not text else f"{text[:10]} {text[11:16]}"


def _where(event: Mapping[str, Any]) -> str:
    return str(event.get("station_id") or event.get("h3_cell") or "")


def _verify_text(signature: Mapping[str, Any]) -> list[str]:
    return [
        f"Algorithm {signature['alg']}, key id {signature['key_id']}.",
        f"Signature: {signature['value']}",
        "To check: save the signed JSON export (attached to this PDF as "
        f"{ATTACHMENT}, or fetched again from .../timeline/export as JSON) and run "
        "`rollcall timeline verify FILE --public-key KEY`, KEY being the force's published key "
        f"with id {signature['key_id']} (GET /v1/export-keys). Any Ed25519 library checks the "
        "signature over the canonical JSON of `document` (sorted keys, no whitespace, UTF-8). "
        "This printout is a rendering of that document; only the JSON is signed.",
    ]


def _header_lines(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    officer = document.get("officer") or {}
    timeline = document["timeline"]
    who = ", ".join(
        str(v) for v in (officer.get("display_name"), officer.get("rank"), officer.get("unit")) if v
    )
    return [
        ("Officer", f"{timeline['officer_id']}" + (f" ({who})" if who else "")),
        ("Period", f"{timeline['from']} to {timeline['to']}"),
        ("Case", str(document.get("case_ref") or "-")),
        (
            "Exported",
            f"{document['exported_at']} by {document['exported_by']} ({document['role']})",
        ),
        ("Request id", str(document.get("request_id") or "")),
    ]


def _flag_lines(flag: Mapping[str, Any]) -> list[str]:
    status = flag["status"] + (" (withdrawn)" if flag.get("withdrawn") else "")
    lines = [
        f"{flag['date']}  {flag['code']}  status {status}  rule {flag.get('rule_version', '')}",
        str(flag.get("summary") or ""),
        "Evidence: " + orjson.dumps(flag.get("evidence"), option=orjson.OPT_SORT_KEYS).decode(),
    ]
    reviews = flag.get("reviews") or []
    if not reviews:
        lines.append("Review history: none")
    for r in reviews:
        note = f": {r['note']}" if r.get("note") else ""
        lines.append(
            f"Review {r['at']} {r['actor']} ({r['role']}) {r['from_status']} -> {r['to_status']}"
            + note
        )
    return lines


# --- PDF ----------------------------------------------------------------------------------------


def _latin1(text: str) -> str:
    """The core PDF fonts cover Latin-1: anything else is shown as '?' rather than failing."""
    return text.encode("latin-1", "replace").decode("latin-1")


class _Pdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.cell(0, 5, f"Rollcall case file - page {self.page_no()}/{{nb}}", align="C")


def _pdf_table(pdf: FPDF, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    pdf.set_font("Helvetica", size=7)
    with pdf.table(
        headings_style=FontFace(emphasis="BOLD"), line_height=4, text_align="LEFT"
    ) as table:
        head = table.row()
        for h in header:
            head.cell(h)
        for values in rows:
            row = table.row()
            for v in values:
                row.cell(_latin1(v))


def _pdf_map(pdf: FPDF, shapes: Sequence[Shape]) -> None:
    x0, y0 = pdf.l_margin, pdf.get_y()
    pdf.set_draw_color(120, 120, 120)
    pdf.rect(x0, y0, _MAP_W, _MAP_H)
    for shape in sorted(shapes, key=lambda s: s.kind == "present"):
        colour = _PRESENT if shape.kind == "present" else _AWAY
        pdf.set_draw_color(*colour)
        pdf.set_fill_color(*colour)
        with pdf.local_context(fill_opacity=0.35):
            for ring in shape.rings:
                points = [(x0 + x * _MAP_W, y0 + y * _MAP_H) for x, y in ring]
                pdf.polygon(points, style="DF")
    pdf.set_y(y0 + _MAP_H + 2)
    pdf.set_font("Helvetica", size=7)
    pdf.cell(
        0,
        4,
        "Blue: stations with presence or swipes. Orange: away segments' H3 cells (about 5 km2); "
        "never a fix's position. No basemap.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.cell(0, 6, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _paragraphs(pdf: FPDF, lines: Iterable[str], size: float = 8) -> None:
    pdf.set_font("Helvetica", size=size)
    for line in lines:
        pdf.multi_cell(0, 4, _latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _day_rows(days: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [
            d["date"],
            d.get("declared_location") or "-",
            "yes" if d["expected_office"] else "no",
            _minutes(float(d["verified_presence_minutes"])),
            "yes" if d["verified_office_day"] else "no",
            str(d["evidence"]).replace("_", " "),
        ]
        for d in days
    ]


def _event_rows(events: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    return [
        [
            _when(e["start"]),
            _when(e.get("end")),
            e["type"].replace("_", " "),
            _where(e),
            str((e.get("source") or {}).get("id", "")),
        ]
        for e in events
    ]


DAY_HEADER = ("date", "declared", "expected office", "presence", "office day", "evidence")
EVENT_HEADER = ("start", "end", "event", "where", "source")


def render_pdf(signed: Mapping[str, Any], fences: Mapping[str, shapely.MultiPolygon]) -> bytes:
    """The case file of a signed export as PDF bytes, the signed JSON attached."""
    document, signature = signed["document"], signed["signature"]
    pdf = _Pdf(format="A4")
    pdf.set_title(f"Case file {document['timeline']['officer_id']}")
    pdf.set_creator("Rollcall")
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=15)
    pdf.cell(0, 9, "Case file: verified on-duty timeline", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _paragraphs(pdf, [f"{k}: {v}" for k, v in _header_lines(document)], size=9)
    _heading(pdf, "Signature")
    _paragraphs(pdf, _verify_text(signature))
    _heading(pdf, "Days")
    days = document.get("days") or []
    if days:
        _pdf_table(pdf, DAY_HEADER, _day_rows(days))
    else:
        _paragraphs(pdf, ["No computed days in the period."])
    _heading(pdf, "Map")
    shapes = map_shapes(document, fences)
    if shapes:
        _pdf_map(pdf, shapes)
    else:
        _paragraphs(pdf, ["Nothing to draw: no presence, swipe or away segment in the period."])
    _heading(pdf, "Flags (leads for a reviewer, not findings of misconduct)")
    flags = document.get("flags") or []
    for flag in flags:
        _paragraphs(pdf, _flag_lines(flag))
        pdf.ln(1)
    if not flags:
        _paragraphs(pdf, ["No flag in the period."])
    _heading(pdf, "Timeline (on-duty events only; off-duty periods carry only their times)")
    _pdf_table(pdf, EVENT_HEADER, _event_rows(document["timeline"]["events"]))
    pdf.embed_file(
        bytes=orjson.dumps(signed),
        basename=ATTACHMENT,
        desc="The signed export this case file renders",
    )
    return bytes(pdf.output())


# --- HTML ---------------------------------------------------------------------------------------


def _svg(shapes: Sequence[Shape]) -> str:
    w, h = 900, int(900 * _MAP_H / _MAP_W)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" '
        'role="img" aria-label="Map of stations and away cells">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#fafafa" stroke="#999"/>',
    ]
    for shape in sorted(shapes, key=lambda s: s.kind == "present"):
        colour = "#1f77b4" if shape.kind == "present" else "#e67e22"
        d = " ".join(
            "M " + " L ".join(f"{x * w:.1f} {y * h:.1f}" for x, y in ring) + " Z"
            for ring in shape.rings
        )
        parts.append(
            f'<path class="{shape.kind}" d="{d}" fill="{colour}" fill-opacity="0.35" '
            f'stroke="{colour}"><title>{html.escape(shape.title)}</title></path>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# The case file's stylesheet, served by the web app (api/web/static): a Content-Security-Policy
# without 'unsafe-inline' (the web app's) refuses an inline <style>, and a copy saved to disk
# stays readable without it.
STYLESHEET = "/app/static/casefile.css"


def render_html(signed: Mapping[str, Any], fences: Mapping[str, shapely.MultiPolygon]) -> str:
    """The case file of a signed export as one HTML page: no script runs and nothing is loaded
    from elsewhere (its only asset is the service's own stylesheet, STYLESHEET)."""
    document, signature = signed["document"], signed["signature"]
    esc = html.escape
    header = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in _header_lines(document))
    verify = "".join(f"<p>{esc(line)}</p>" for line in _verify_text(signature))
    days = document.get("days") or []
    shapes = map_shapes(document, fences)
    flags = document.get("flags") or []
    flag_html = "".join(
        "<article class='flag'>"
        + "".join(f"<p>{esc(line)}</p>" for line in _flag_lines(f))
        + "</article>"
        for f in flags
    )
    # The signed export, for checking: '</' cannot end the script element early.
    embedded = orjson.dumps(signed).decode().replace("</", "<\\/")
    title = f"Case file {document['timeline']['officer_id']}"
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f'<link rel="stylesheet" href="{STYLESHEET}"></head><body>'
        "<h1>Case file: verified on-duty timeline</h1>"
        f"<dl>{header}</dl>"
        f"<section id='signature'><h2>Signature</h2>{verify}</section>"
        "<section id='days'><h2>Days</h2>"
        + (_html_table(DAY_HEADER, _day_rows(days)) if days else "<p>No computed days.</p>")
        + "</section><section id='map'><h2>Map</h2>"
        + (_svg(shapes) if shapes else "<p>Nothing to draw.</p>")
        + "<p>Blue: stations with presence or swipes. Orange: away segments' H3 cells. "
        "No basemap.</p></section>"
        "<section id='flags'><h2>Flags (leads for a reviewer, not findings)</h2>"
        + (flag_html or "<p>No flag in the period.</p>")
        + "</section><section id='timeline'><h2>Timeline</h2>"
        + _html_table(EVENT_HEADER, _event_rows(document["timeline"]["events"]))
        + "</section>"
        f'<script type="application/json" id="signed-export">{embedded}</script>'
        "</body></html>"
    )
