"""Signed audit checkpoints: the log's head signed with a key the database does not hold,
recorded in the log and appended to a file kept elsewhere (README: audit checkpoints)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.signing import Signer
from rules.clock import iso_local
from store import audit
from store.db import transaction

log = logging.getLogger("rollcall.api")

CHECKPOINT_KIND = "rollcall.audit.checkpoint"


def make_checkpoint(
    factory: sessionmaker[Session], signer: Signer, out: Path, tz: str
) -> tuple[int, str]:
    """Record a checkpoint entry, sign the head it makes and append the signed line to ``out``;
    returns the head (seq, hash). The entry commits before the line is written, so a line never
    names an entry that was rolled back."""
    with transaction(factory) as session:
        audit.append(
            session,
            actor="rollcall",
            role="system",
            action="audit.checkpoint",
            detail={"key_id": signer.key_id, "file": out.name},
        )
        session.flush()
        head = audit.head_entry(session)
        assert head is not None
    seq, digest, at = head
    signed = signer.sign(
        {
            "kind": CHECKPOINT_KIND,
            "seq": seq,
            "hash": digest,
            "at": iso_local(at, tz),
            "made_at": iso_local(datetime.now(UTC), tz),
        }
    )
    with out.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(signed, sort_keys=True) + "\n")
    return seq, digest


async def checkpoint_every(
    factory: sessionmaker[Session], signer: Signer, out: Path, tz: str, minutes: float
) -> None:
    """Make a checkpoint at start and then every ``minutes`` until cancelled; a failure is logged
    (type only) and the next one is tried on time."""
    while True:
        try:
            await run_in_threadpool(make_checkpoint, factory, signer, out, tz)
        except Exception as exc:  # noqa: BLE001 - the service keeps serving; the log says why
            log.error("audit checkpoint failed", extra={"error_type": type(exc).__name__})
        await asyncio.sleep(minutes * 60)
