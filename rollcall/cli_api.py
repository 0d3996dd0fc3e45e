"""Command-line access to the HTTP service: serve, token, audit."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the service commands to the ``rollcall`` application."""
