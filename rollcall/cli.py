"""The ``rollcall`` command line: one module per command group under :mod:`rollcall.commands`."""

from __future__ import annotations

import os
import sys

import typer

from rollcall.commands import (
    audit,
    db,
    demo,
    flags,
    imports,
    nightly,
    report,
    serve,
    subject,
    timeline,
)
from rollcall.settings import get_settings

app = typer.Typer(
    name="rollcall",
    help="Verified on-duty attendance: imports, nightly results, reports and the HTTP API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Commands are listed in this order in `rollcall --help` (commands first, then groups).
for group in (db, imports, nightly, report, demo, flags, subject, serve, audit, timeline):
    group.register(app)


def main() -> None:
    """Entry point of the ``rollcall`` console script: a failure ends with one line on stderr
    saying what is wrong and what to do (exit 1; 130 when interrupted), a traceback only with
    ROLLCALL_TRACEBACK=1."""
    from rollcall.failures import describe
    from rollcall.settings import Settings

    try:
        app(prog_name="rollcall")
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: what was committed before stays; run it again to go on\n")
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("ROLLCALL_TRACEBACK"):
            raise
        try:
            lock_timeout_s = get_settings().db_lock_timeout_s
        except Exception:  # noqa: BLE001 - bad settings are reported on their own
            lock_timeout_s = Settings.model_fields["db_lock_timeout_s"].default
        sys.stderr.write(f"error: {describe(exc, lock_timeout_s=lock_timeout_s)}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
