"""The wall clock: the one place entry points read the time, so tests can hold it still."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, as an aware UTC datetime. Entry points call this (or a clock given to them) and pass
    the instant down; nothing below them reads the time on its own."""
    return datetime.now(UTC)
