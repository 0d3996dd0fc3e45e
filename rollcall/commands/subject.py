"""``rollcall subject-access``: everything held about an officer as a signed zip, and its check."""

from __future__ import annotations

import getpass
from pathlib import Path
from time import perf_counter
from typing import Annotated

import typer

from rollcall import wallclock
from rollcall.commands.common import (
    console,
    err_console,
    load_policy_or_exit,
    load_settings,
    public_keys_or_exit,
    sessions,
)


def subject_access(
    officer_id: Annotated[str, typer.Argument(help="The officer's id.")],
    out: Annotated[Path, typer.Option("--out", help="The zip file to write.")],
) -> None:
    """Write everything held about the officer (a subject access request) to a zip of CSV and
    JSON files with a manifest signed by the export key (ROLLCALL_EXPORT_KEY_FILE). The request
    is recorded in the audit log (role "cli")."""
    from api.bundle import NoSuchOfficerError, build_bundle
    from api.signing import SigningConfigError, signer_from_settings
    from store import audit
    from store.db import transaction

    settings = load_settings()
    policy = load_policy_or_exit(settings)
    try:
        signer = signer_from_settings(settings)
    except SigningConfigError as exc:
        err_console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if signer is None:
        err_console.print(
            "[red]error:[/] ROLLCALL_EXPORT_KEY_FILE is not set: the bundle cannot be signed "
            "(rollcall timeline keygen FILE makes a key)"
        )
        raise typer.Exit(2)
    if out.exists():
        err_console.print(f"[red]error:[/] {out} exists: choose another --out")
        raise typer.Exit(2)
    actor = getpass.getuser()
    started = perf_counter()
    with sessions(settings) as factory, transaction(factory) as session:
        try:
            bundle = build_bundle(
                session,
                officer_id,
                signer,
                tz=settings.timezone,
                now=wallclock.utc_now(),
                disclosure_days=policy.open_case_disclosure_days,
                requested_by=actor,
                role="cli",
            )
        except NoSuchOfficerError as exc:
            err_console.print(f"[red]error:[/] no officer {officer_id!r}")
            raise typer.Exit(1) from exc
        seconds = perf_counter() - started
        audit.append(
            session,
            actor=actor,
            role="cli",
            action="export.subject_access",
            officer_id=officer_id,
            case_ref=None,
            purpose="subject_access",
            request_id=None,
            detail={"files": bundle.files, "bytes": len(bundle.data), "seconds": round(seconds, 3)},
        )
        partial = out.with_name(out.name + ".partial")
        partial.write_bytes(bundle.data)
        partial.replace(out)
    rows = sum(bundle.files.values())
    console.print(
        f"Wrote {out}: {len(bundle.files)} files, {rows:,} rows, {len(bundle.data):,} bytes, "
        f"signed with {signer.key_id}, in {seconds:.2f} s."
    )


def subject_access_verify(
    file: Annotated[Path, typer.Argument(help="A bundle written by rollcall subject-access.")],
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            "--public-key",
            "-k",
            help="A trusted public key: a file (PEM, or keygen's output) or a value. Repeatable.",
        ),
    ] = None,
) -> None:
    """Check a subject access bundle offline: the manifest's signature and every file's digest.
    Exit 0 valid, 1 altered, 3 unknown key, 4 malformed (as ``rollcall timeline verify``)."""
    from api.bundle import verify_bundle
    from rollcall.commands.timeline import VERIFY_EXIT

    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: {file}: cannot be read", err=True)
        raise typer.Exit(2) from exc
    verdict = verify_bundle(data, public_keys_or_exit(public_key))
    if not verdict.ok:
        typer.echo(f"{file}: {verdict.outcome.value.upper()}: {verdict.reason}", err=True)
        raise typer.Exit(VERIFY_EXIT[verdict.outcome.value])
    typer.echo(f"{file}: VALID: {verdict.reason}")


def register(app: typer.Typer) -> None:
    """Add the subject access commands to the ``rollcall`` application."""
    app.command("subject-access")(subject_access)
    app.command("subject-access-verify")(subject_access_verify)
