"""Command-line access to the HTTP service: serve, token, audit verify, timeline keys and verify."""

from __future__ import annotations

import ipaddress
import json
import secrets
import socket
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from rollcall import wallclock
from rollcall.console import cli_engine, load_settings
from rollcall.settings import Settings


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default ROLLCALL_HOST, loopback)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port (default ROLLCALL_PORT, 8000).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes (default ROLLCALL_WORKERS, 1)."),
    ] = None,
    dev_login: Annotated[
        bool,
        typer.Option(
            "--dev-login",
            help="Development only: a sign-in page at /app/login issuing 30-minute tokens for "
            "any role (refused with ROLLCALL_JWT_PUBLIC_KEY set).",
        ),
    ] = False,
) -> None:
    """Run the HTTP API and the web app under /app (uvicorn). Logs are JSON lines on stderr."""
    import uvicorn
    from fastapi import FastAPI
    from pydantic import SecretStr

    from api.app import create_app
    from api.observability import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    workers = settings.workers if workers is None else workers
    if dev_login:
        if settings.jwt_public_key:
            typer.echo(
                "error: --dev-login is refused while ROLLCALL_JWT_PUBLIC_KEY is set", err=True
            )
            raise typer.Exit(2)
        if workers > 1:
            typer.echo("error: --dev-login runs with one worker", err=True)
            raise typer.Exit(2)
        if not settings.jwt_secret.get_secret_value():
            # tokens of this process only: they stop working when it stops
            settings = settings.model_copy(
                update={"jwt_secret": SecretStr(secrets.token_urlsafe(32))}
            )
        typer.echo(
            f"development sign-in: http://{host}:{port}/app/login (never expose this server)",
            err=True,
        )
    if not settings.jwt_secret.get_secret_value() and not settings.jwt_public_key:
        typer.echo(
            "warning: neither ROLLCALL_JWT_SECRET nor ROLLCALL_JWT_PUBLIC_KEY is set: "
            "every authenticated request will be refused",
            err=True,
        )
    if settings.export_key_file is None:
        typer.echo(
            "warning: ROLLCALL_EXPORT_KEY_FILE is not set: timeline exports will be refused "
            "(rollcall timeline keygen FILE makes a key)",
            err=True,
        )
    try:
        if not ipaddress.ip_address(host).is_loopback:
            typer.echo(f"warning: listening on {host}, not loopback: put TLS in front", err=True)
    except ValueError:
        pass
    from api.auth import TokenConfigError, TokenVerifier
    from api.signing import SigningConfigError, signer_from_settings
    from rules.policy import PolicyError, load_policy

    try:  # configuration errors stop here, in the parent, naming the setting
        TokenVerifier(settings)
        signer_from_settings(settings)
        load_policy(settings.policy)
        target: FastAPI | str = (
            create_app(settings, dev_login=dev_login)
            if workers == 1
            else "api.app:app_from_environment"
        )
    except (TokenConfigError, SigningConfigError, PolicyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    config = uvicorn.Config(
        target,
        host=host,
        port=port,
        factory=workers > 1,
        workers=workers,
        # Workers import Polars, H3 and GeoAlchemy (several seconds on a busy host): the default
        # 5 s health check would kill and respawn them forever.
        timeout_worker_healthcheck=60,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    from uvicorn.supervisors import Multiprocess

    sock = config.bind_socket()
    # uvicorn's shared socket has proto 0, so asyncio never sets TCP_NODELAY on the connections
    # it accepts: Nagle plus delayed ACK then add ~40 ms to every keep-alive response. Linux
    # copies the listener's TCP_NODELAY to each accepted connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass


def token(
    role: Annotated[str, typer.Option(help="ingest, admin, hr, investigator, officer, auditor")],
    sub: Annotated[str, typer.Option(help="Subject: who the token is for.")],
    officer_id: Annotated[str | None, typer.Option(help="Required for --role officer.")] = None,
    ttl_minutes: Annotated[int, typer.Option(min=1, max=7 * 24 * 60)] = 60,
) -> None:
    """Print an HS256 token signed with ROLLCALL_JWT_SECRET (development and tests)."""
    from api.auth import TokenConfigError, issue_token

    settings = load_settings()
    try:
        text = issue_token(
            settings.jwt_secret.get_secret_value(),
            role=role,
            sub=sub,
            officer_id=officer_id,
            ttl=timedelta(minutes=ttl_minutes),
        )
    except TokenConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(text)


audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        str | None,
        typer.Option(help="SEQ:HASH recorded earlier; detects deletion of the newest entries."),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="A file of signed checkpoints kept off the database (audit checkpoint)."),
    ] = None,
    public_key: Annotated[
        list[str] | None,
        typer.Option("--public-key", "-k", help="A trusted public key of the checkpoints."),
    ] = None,
    max_age_minutes: Annotated[
        int, typer.Option(min=1, help="The newest checkpoint must be younger than this.")
    ] = 15,
) -> None:
    """Recompute the hash chain; exit 1 naming the first bad seq if any entry was edited or
    deleted outside a recorded purge (or a purge removed entries inside retention_days_derived).
    Prints the head (seq:hash) to record for the next run."""
    from rollcall.console import load_policy_or_exit
    from store import audit
    from store.db import session_factory

    head: tuple[int, str] | None = None
    if expect_head is not None:
        seq_text, _, hash_text = expect_head.partition(":")
        if not seq_text.isdigit() or len(hash_text) != 64:
            typer.echo("error: --expect-head must be SEQ:HASH (64 hex digits)", err=True)
            raise typer.Exit(2)
        head = (int(seq_text), hash_text)
    settings = load_settings()
    policy = load_policy_or_exit(settings)
    checkpoints = checkpoints or settings.audit_checkpoint_file
    lines: list[str] | None = None
    keys: list[Any] = []
    if checkpoints is not None:
        lines, keys = _checkpoint_inputs(checkpoints, public_key or [], settings)
    else:
        typer.echo(
            "warning: no checkpoint file (--checkpoints or ROLLCALL_AUDIT_CHECKPOINT_FILE): "
            "a log rewritten with recomputed hashes or cut off at its end is not detected",
            err=True,
        )
    problems: list[str] = []
    engine = cli_engine(settings)
    try:
        with session_factory(engine)() as session:
            report = audit.verify_chain(
                session, expect_head=head, retention_days=policy.retention_days_derived
            )
            if lines is not None:
                problems = check_checkpoints(
                    lines,
                    keys,
                    lambda seq: audit.entry_hash_at(session, seq),
                    report,
                    retention_days=policy.retention_days_derived,
                    max_age=timedelta(minutes=max_age_minutes),
                    now=wallclock.utc_now(),
                )
    finally:
        engine.dispose()
    if problems:
        for problem in problems:
            typer.echo(f"audit log CHECKPOINT: {problem}", err=True)
        raise typer.Exit(1)
    if not report.ok:
        typer.echo(
            f"audit log BROKEN at seq {report.first_bad_seq}: {report.reason} "
            f"({report.entries} entries verified before it)",
            err=True,
        )
        raise typer.Exit(1)
    since = f" after the recorded purge of seq 1..{report.anchor_seq}" if report.anchor_seq else ""
    typer.echo(
        f"audit log intact: {report.entries} entries{since}; "
        f"head {report.head_seq}:{report.head_hash}"
    )


def _checkpoint_inputs(
    path: Path, public_keys: list[str], settings: Settings
) -> tuple[list[str], list[Any]]:
    """The checkpoint file's lines and the trusted public keys: those given, else the public half
    of the configured audit key (ROLLCALL_AUDIT_KEY_FILE, else the export key). Exit 2 naming
    what cannot be read."""
    from api.signing import SigningConfigError, load_signer, read_public_key

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        keys: list[Any] = [read_public_key(value) for value in public_keys]
        configured = settings.audit_key_file or settings.export_key_file
        if not keys and configured is not None:
            keys = [load_signer(configured).public_key]
    except (OSError, UnicodeDecodeError, SigningConfigError) as exc:
        typer.echo(f"error: --checkpoints / --public-key: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not keys:
        typer.echo(
            "error: --public-key: no trusted key to check the checkpoints with "
            "(give -k, or set ROLLCALL_AUDIT_KEY_FILE)",
            err=True,
        )
        raise typer.Exit(2)
    return lines, keys


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[
        Path, typer.Option("--out", help="File the signed checkpoint is appended to (JSON lines).")
    ],
    key: Annotated[
        Path | None,
        typer.Option(help="Ed25519 key (default ROLLCALL_AUDIT_KEY_FILE, else the export key)."),
    ] = None,
) -> None:
    """Sign the audit log's head (seq, hash, time) with a key the database does not hold, record
    the checkpoint in the log and append it to OUT. Keep OUT (or a copy) off the database's host:
    `audit verify --checkpoints OUT` then detects a truncated, deleted or rewritten log."""
    from api.checkpoints import make_checkpoint
    from api.signing import SigningConfigError, load_signer
    from store.db import make_engine, session_factory

    settings = load_settings()
    path = key or settings.audit_key_file or settings.export_key_file
    if path is None:
        typer.echo("error: give --key or set ROLLCALL_AUDIT_KEY_FILE", err=True)
        raise typer.Exit(2)
    try:
        signer = load_signer(path)
    except SigningConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    engine = make_engine(settings.database_url)
    try:
        seq, digest = make_checkpoint(session_factory(engine), signer, out, settings.timezone)
    finally:
        engine.dispose()
    typer.echo(f"checkpoint {seq}:{digest} signed with {signer.key_id}, appended to {out}")


def check_checkpoints(
    lines: list[str],
    keys: list[Any],
    hash_at: Any,
    report: Any,
    *,
    retention_days: int,
    max_age: Any,
    now: Any,
) -> list[str]:
    """What is wrong with the log against the external checkpoints (empty: nothing): a line not
    validly signed by a trusted key, an entry a checkpoint saw that is gone (truncation, deleted
    prefix without a purge in retention) or whose hash changed (rewrite), a head behind the
    newest checkpoint, and a newest checkpoint older than ``max_age``."""
    from datetime import datetime, timedelta

    from api.checkpoints import CHECKPOINT_KIND
    from api.signing import MalformedExportError, parse_export, verify

    problems: list[str] = []
    newest: datetime | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            signed = parse_export(line)
        except (MalformedExportError, ValueError):
            problems.append(f"checkpoint line {number}: not a signed checkpoint")
            continue
        verdict = verify(signed, keys)
        doc = signed.get("document") if isinstance(signed, dict) else None
        if not verdict.ok or not isinstance(doc, dict) or doc.get("kind") != CHECKPOINT_KIND:
            problems.append(f"checkpoint line {number}: {verdict.outcome.value}: {verdict.reason}")
            continue
        seq, digest = int(doc["seq"]), str(doc["hash"])
        at, made_at = datetime.fromisoformat(doc["at"]), datetime.fromisoformat(doc["made_at"])
        newest = max(newest or made_at, made_at)
        stored = hash_at(seq)
        if stored == digest:
            continue
        if stored is not None:
            problems.append(f"entry {seq} was rewritten after checkpoint line {number}")
        elif seq <= report.anchor_seq and at < now - timedelta(days=retention_days):
            continue  # removed by a recorded purge, as retention allows
        else:
            problems.append(
                f"entry {seq} seen by checkpoint line {number} is missing: the log was "
                "truncated or entries were deleted"
            )
    if newest is None:
        problems.append("no checkpoint: deletion of the newest entries cannot be detected")
    elif now - newest > max_age:
        problems.append(f"the newest checkpoint ({newest.isoformat()}) is stale")
    return problems


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
    from api.signing import SigningConfigError, describe_public_key, load_signer

    path = file or load_settings().export_key_file
    if path is None:
        typer.echo("error: give a key file or set ROLLCALL_EXPORT_KEY_FILE", err=True)
        raise typer.Exit(2)
    try:
        signer = load_signer(path)
    except SigningConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
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
    from api.signing import (
        MalformedExportError,
        SigningConfigError,
        parse_export,
        read_public_key,
        verify,
    )

    try:
        signed = parse_export(file.read_text(encoding="utf-8"))
    except MalformedExportError as exc:
        typer.echo(f"{file}: MALFORMED: {exc}", err=True)
        raise typer.Exit(VERIFY_EXIT["malformed"]) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        typer.echo(f"error: {file}: not a readable JSON file", err=True)
        raise typer.Exit(2) from exc
    try:
        keys = [read_public_key(value) for value in public_key or []]
    except SigningConfigError as exc:
        typer.echo(f"error: --public-key: {exc}", err=True)
        raise typer.Exit(2) from exc
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

    from geo.geojson import timeline_collection
    from rollcall.console import console, err_console, load_policy_or_exit
    from rules.clock import period_bounds
    from store import audit
    from store.db import make_engine, session_factory, transaction
    from store.stations import StationCatalog
    from store.timeline import build_timeline, officer_exists

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
    engine = make_engine(settings.database_url)
    try:
        with transaction(session_factory(engine)) as session:
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
    finally:
        engine.dispose()
    if fmt == "table":
        console.print(_timeline_table(timeline))
        return
    document = timeline if fmt == "json" else timeline_collection(timeline, stations.fences)
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def register(app: typer.Typer) -> None:
    """Add the service commands to the ``rollcall`` application."""
    app.command("serve")(serve)
    app.command("token")(token)
    app.add_typer(audit_app, name="audit")
    app.add_typer(timeline_app, name="timeline")
