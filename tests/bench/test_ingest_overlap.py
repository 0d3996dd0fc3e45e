"""bench/ingest.py's overlapping-days mode, small, against a real `rollcall serve`: 8 senders post
batches of the same fixes over four days at once; no 503, and every distinct fix is stored or
counted masked exactly once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from api.auth import issue_token
from bench.ingest import overlap_phase, overlap_stored, seed
from tests.served import SECRET, served

SENDERS = 8
DEVICES = 40


@pytest.mark.slow
def test_eight_senders_on_overlapping_days_store_each_fix_once(db_url: str, tmp_path: Path) -> None:
    info = seed(db_url, officers=DEVICES, ping_officers=DEVICES, month=date(2026, 10, 1))
    token = issue_token(SECRET, role="ingest", sub="bench")
    with served(db_url, tmp_path / "serve.log", workers=2) as server:
        figures = overlap_phase(
            server.base_url,
            token,
            senders=SENDERS,
            rounds=4,
            batch=400,
            devices=DEVICES,
            base=info["base"],
        )
    assert figures["http_503"] == 0, figures
    assert figures["failed"] == 0, figures
    assert [s["batches"] for s in figures["senders"]] == [4] * SENDERS
    assert figures["distinct_sent"] == 1600
    stored = overlap_stored(db_url, since=info["base"], devices=DEVICES)
    assert stored == {"pings": figures["distinct_on_duty"], "masked": figures["distinct_masked"]}
    assert figures["counts"]["accepted"] == figures["distinct_on_duty"]
    assert figures["counts"]["held"] == figures["counts"]["rejected"] == 0
