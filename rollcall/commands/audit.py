"""``rollcall audit``: verify the audit log's hash chain and sign checkpoints of its head."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from rollcall import wallclock
from rollcall.commands.common import cli_engine, load_settings, sessions, signer_or_exit
from rollcall.settings import Settings

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
    from rollcall.commands.common import load_policy_or_exit
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

    settings = load_settings()
    signer = signer_or_exit(
        key or settings.audit_key_file or settings.export_key_file,
        "give --key or set ROLLCALL_AUDIT_KEY_FILE",
    )
    with sessions(settings) as factory:
        seq, digest = make_checkpoint(factory, signer, out, settings.timezone)
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


def register(app: typer.Typer) -> None:
    """Add the ``audit`` group to the ``rollcall`` application."""
    app.add_typer(audit_app, name="audit")
