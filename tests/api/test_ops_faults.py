"""Readiness at the head migration; a batch blocked by a lock answers 503 in time, and its retry
stores it once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select

from store.db import make_engine
from store.models import MaskedCount, Ping
from tests.api.helpers import FAR, INSIDE, lock_held, running_app, seed_reference


def test_readyz_is_ready_only_at_the_head_migration(db_url: str, export_key_file: Path) -> None:
    with running_app(db_url, export_key_file) as api:
        assert api.client.get("/readyz").json() == {"status": "ready"}
        engine = make_engine(db_url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0003'"))
        r = api.client.get("/readyz")
        assert r.status_code == 503
        assert r.json() == {"status": "not_migrated"}
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM alembic_version"))
        assert api.client.get("/readyz").json() == {"status": "not_migrated"}
        engine.dispose()


def _hold(db_url: str, held: threading.Event, release: threading.Event) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        if "postgresql" in db_url:
            conn.execute(sa.text("BEGIN"))
            conn.execute(sa.text("LOCK TABLE masked_counts IN ACCESS EXCLUSIVE MODE"))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        conn.rollback()
    engine.dispose()


def test_a_batch_blocked_by_a_lock_answers_503_in_time_and_its_retry_counts_once(
    db_url: str, export_key_file: Path
) -> None:
    with running_app(db_url, export_key_file, db_lock_timeout_s=1.0) as api:
        seed_reference(api)
        batch = {
            "pings": [
                api.ping("2026-10-05T09:00:00+01:00", INSIDE),
                api.ping("2026-10-05T10:00:00+01:00", FAR, device="D2"),  # masked
            ]
        }
        with lock_held(_hold, db_url):
            t0 = time.monotonic()
            r = api.client.post("/v1/pings", json=batch, headers=api.headers("ingest"))
            waited = time.monotonic() - t0
        assert r.status_code == 503, r.text
        assert "nothing was stored" in r.json()["error"]["message"]
        assert waited < 10  # well before a client's usual 30 s
        again = api.client.post("/v1/pings", json=batch, headers=api.headers("ingest"))
        assert again.status_code == 200, again.text
        with api.factory() as session:
            assert session.scalar(select(func.count()).select_from(Ping)) == 1
            assert session.scalar(select(func.sum(MaskedCount.count))) == 1
