"""Command-line reports and batch jobs: nightly, report, flags, purge, demo."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the report and job commands to the ``rollcall`` application."""
