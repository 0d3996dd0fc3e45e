"""``rollcall timeline``: officers' timelines (audited reads), export keys and verification."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from rollcall.commands.common import load_settings, public_keys_or_exit, signer_or_exit

timeline_app = typer.Typer(
    help="Officers' timelines (audited reads) and signed exports: keys and verification.",
    no_args_is_help=True,
)

# Exit codes of `timeline verify` (2 is a usage error: unreadable file, bad key argument).
VERIFY_EXIT = {"valid": 0, "altered": 1, "unknown key": 3, "malformed": 4}


@timeline_app.command("keygen")
def timeline_keygen(
    file: Annotated[Path, typer.Argument(help="Where to write the private key; must not exist.")],
) -> None:
    """Make an Ed25519 key pair for signing exports: the private key goes to FILE (PEM, PKCS#8,
    mode 0600; set ROLLCALL_EXPORT_KEY_FILE to it), the key id and public key to stdout (save
    them: they check every export signed with this key). Never overwrites a file."""
    from api.signing import describe_public_key, generate_key_file

    try:
        signer = generate_key_file(file)
    except FileExistsError as exc:
        typer.echo(f"error: {file} exists: a key is never overwritten", err=True)
        raise typer.Exit(2) from exc
    except OSError as exc:
        typer.echo(f"error: cannot write {file}: {exc.strerror}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"wrote private key {file} (mode 0600); key id {signer.key_id}", err=True)
    typer.echo(describe_public_key(signer.public_key), nl=False)


@timeline_app.command("public-key")
def timeline_public_key(
    file: Annotated[
        Path | None,
        typer.Argument(help="A private key file (default: ROLLCALL_EXPORT_KEY_FILE)."),
    ] = None,
) -> None:
    """Print the key id and public key of the export signing key (what GET /v1/export-keys
    serves), for whoever will check exports offline."""
    from api.signing import describe_public_key

    signer = signer_or_exit(
        file or load_settings().export_key_file, "give a key file or set ROLLCALL_EXPORT_KEY_FILE"
    )
    typer.echo(describe_public_key(signer.public_key), nl=False)


@timeline_app.command("verify")
def timeline_verify(
    file: Annotated[Path, typer.Argument(help="A JSON file saved from .../timeline/export.")],
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            "--public-key",
            "-k",
            help="A trusted public key: a file (PEM, or keygen's output) or a value (base64url "
            "or PEM). Repeat for keys used before a rotation.",
        ),
    ] = None,
    legacy_hmac: Annotated[
        bool,
        typer.Option(help="Also check old HMAC-SHA256 exports with ROLLCALL_JWT_SECRET."),
    ] = False,
) -> None:
    """Check a signed timeline export offline. Exit 0 valid, 1 altered (the document does not
    match its signature), 3 unknown key (signed by none of the given keys), 4 malformed."""
    from api.signing import MalformedExportError, parse_export, verify

    try:
        signed = parse_export(file.read_text(encoding="utf-8"))
    except MalformedExportError as exc:
        typer.echo(f"{file}: MALFORMED: {exc}", err=True)
        raise typer.Exit(VERIFY_EXIT["malformed"]) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"error: {file}: not a readable JSON file", err=True)
        raise typer.Exit(2) from exc
    keys = public_keys_or_exit(public_key)
    secret: str | None = None
    if legacy_hmac:
        secret = load_settings().jwt_secret.get_secret_value()
        if not secret:
            typer.echo("error: --legacy-hmac needs ROLLCALL_JWT_SECRET", err=True)
            raise typer.Exit(2)
    verdict = verify(signed, keys, legacy_secret=secret)
    if not verdict.ok:
        typer.echo(f"{file}: {verdict.outcome.value.upper()}: {verdict.reason}", err=True)
        raise typer.Exit(VERIFY_EXIT[verdict.outcome.value])
    doc = signed["document"]
    timeline = doc.get("timeline", {})
    typer.echo(
        f"{file}: VALID: {verdict.reason}: officer {timeline.get('officer_id')} "
        f"{timeline.get('from')}..{timeline.get('to')}, exported by "
        f"{doc.get('exported_by')} at {doc.get('exported_at')} "
        f"for case {doc.get('case_ref')}"
    )


MAX_TIMELINE_DAYS = 31


def _timeline_table(timeline: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(
        title=f"{timeline['officer_id']}: on-duty timeline {timeline['from']} to {timeline['to']}",
        caption="away: an H3 cell (about 5 km²), never a coordinate; off duty: times only",
    )
    for col in ("start", "end", "event", "where", "source"):
        table.add_column(col, no_wrap=col != "source")
    for e in timeline["events"]:
        where = e.get("station_id") or e.get("h3_cell") or ""
        source = e.get("source") or {}
        start, end = e["start"], e.get("end") or ""
        same_day = end[:10] == start[:10]
        table.add_row(
            f"{start[:10]} {start[11:16]}",
            end[11:16] if same_day else f"{end[:10]} {end[11:16]}".strip(),
            e["type"].replace("_", " "),
            str(where),
            str(source.get("id", "")),
        )
    return table


@timeline_app.command("show")
def timeline_show(
    officer_id: Annotated[str, typer.Argument(help="The officer's id.")],
    start: Annotated[str, typer.Option("--from", help="Local day or ISO 8601 instant.")],
    end: Annotated[str, typer.Option("--to", help="Local day (inclusive) or instant (exclusive).")],
    fmt: Annotated[str, typer.Option("--format", help="table, json or geojson.")] = "table",
    case_ref: Annotated[
        str | None, typer.Option("--case-ref", help="Case reference recorded in the audit log.")
    ] = None,
) -> None:
    """An officer's verified on-duty timeline (at most 31 days), as the API gives it: on-duty
    events only, away segments as H3 cells. The read is recorded in the audit log (role "cli",
    action read.timeline, with the case reference)."""
    import getpass

    import orjson

    from api.timeline import build_timeline
    from geo.geojson import timeline_collection
    from rollcall.commands.common import console, err_console, load_policy_or_exit, sessions
    from rules.clock import period_bounds
    from store import audit
    from store.db import transaction
    from store.stations import StationCatalog
    from store.timeline import officer_exists

    if fmt not in ("table", "json", "geojson"):
        typer.echo("error: --format must be one of table, json, geojson", err=True)
        raise typer.Exit(2)
    settings = load_settings()
    policy = load_policy_or_exit(settings)
    tz = settings.timezone
    try:
        first, last = period_bounds(start, end, tz, max_days=MAX_TIMELINE_DAYS)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    with sessions(settings) as factory, transaction(factory) as session:
        if not officer_exists(session, officer_id):
            err_console.print(f"error: no officer {officer_id!r}", markup=False)
            raise typer.Exit(1)
        stations = StationCatalog(cache_dir=settings.cache_dir).current(session)
        timeline = build_timeline(
            session, officer_id, first, last, policy=policy, tz=tz, stations=stations
        )
        audit.append(
            session,
            actor=getpass.getuser(),
            role="cli",
            action="read.timeline",
            officer_id=officer_id,
            case_ref=case_ref,
            purpose="cli timeline show",
            detail={
                "from": timeline["from"],
                "to": timeline["to"],
                "events": len(timeline["events"]),
                "format": fmt,
            },
        )
    if fmt == "table":
        console.print(_timeline_table(timeline))
        return
    document = timeline if fmt == "json" else timeline_collection(timeline, stations.fences)
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def register(app: typer.Typer) -> None:
    """Add the ``timeline`` group to the ``rollcall`` application."""
    app.add_typer(timeline_app, name="timeline")
