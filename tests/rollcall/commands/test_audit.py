"""Signed audit checkpoints kept off the database: whoever can write to the database can recompute
every hash, truncate the tail or delete every row, and the hash chain alone says intact; the
checkpoints, signed with a key the database does not hold, catch each of these."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api import signing
from rollcall import wallclock
from rollcall.cli import app
from rollcall.settings import get_settings
from store import audit
from store.db import session_factory, transaction
from store.models import AuditEntry

runner = CliRunner()


@pytest.fixture
def logged(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    for name in ("ROLLCALL_AUDIT_KEY_FILE", "ROLLCALL_EXPORT_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    with transaction(session_factory(engine)) as session:
        for i in range(4):
            audit.append(session, actor="det", role="investigator", action="read", detail={"i": i})
    yield engine
    get_settings.cache_clear()


@pytest.fixture
def key(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "audit-key.pem"
    signer = signing.generate_key_file(path)
    return path, signing.public_key_text(signer.public_key)


def _verify(out: Path, public: str, *extra: str) -> object:
    return runner.invoke(app, ["audit", "verify", "--checkpoints", str(out), "-k", public, *extra])


def _rehash(engine: Engine) -> None:
    """What an attacker with write access does after an edit: recompute the whole chain."""
    with Session(engine) as session, session.begin():
        prev = audit.GENESIS_HASH
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        for row in rows:
            row.prev_hash = prev
            row.hash = audit.entry_hash(prev, row)
            prev = row.hash


def _checkpoint(out: Path, key_path: Path) -> None:
    made = runner.invoke(app, ["audit", "checkpoint", "--out", str(out), "--key", str(key_path)])
    assert made.exit_code == 0, made.output
    assert "signed with k-" in made.stdout


def test_checkpoints_catch_what_the_chain_alone_cannot(
    logged: Engine, key: tuple[Path, str], tmp_path: Path
) -> None:
    key_path, public = key
    out = tmp_path / "checkpoints.jsonl"
    _checkpoint(out, key_path)
    line = json.loads(out.read_text().splitlines()[0])
    assert line["document"]["seq"] == 5  # the four entries and the checkpoint's own
    ok = _verify(out, public)
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.stdout

    # A rewrite with every hash recomputed: the chain verifies, the checkpoint does not.
    with logged.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"))
    _rehash(logged)
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    bad = _verify(out, public)
    assert bad.exit_code == 1
    assert "rewritten" in bad.output

    # Truncating the tail: again intact by the chain alone.
    with logged.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq >= 4"))
    _rehash(logged)
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    cut = _verify(out, public)
    assert cut.exit_code == 1
    assert "entry 5 seen by checkpoint line 1 is missing" in cut.output

    # Every row deleted.
    with logged.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    assert "is missing" in _verify(out, public).output


def test_forged_missing_and_stale_checkpoints(
    logged: Engine, key: tuple[Path, str], tmp_path: Path
) -> None:
    key_path, public = key
    out = tmp_path / "checkpoints.jsonl"
    _checkpoint(out, key_path)
    # A line signed by another key (whoever forges it does not hold the audit key).
    other = signing.generate_key_file(tmp_path / "other.pem")
    forged = other.sign(
        {
            "kind": "rollcall.audit.checkpoint",
            "seq": 1,
            "hash": "0" * 64,
            "at": wallclock.utc_now().isoformat(),
            "made_at": wallclock.utc_now().isoformat(),
        }
    )
    with out.open("a") as fh:
        fh.write(json.dumps(forged) + "\n")
    bad = _verify(out, public)
    assert bad.exit_code == 1
    assert "checkpoint line 2: unknown key" in bad.output

    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    assert "no checkpoint" in _verify(empty, public).output

    signer = signing.load_signer(key_path)
    old = wallclock.utc_now() - timedelta(hours=2)
    with logged.connect() as conn:
        head_hash = conn.execute(sa.text("SELECT hash FROM audit_log WHERE seq = 5")).scalar()
    stale = tmp_path / "stale.jsonl"
    stale.write_text(
        json.dumps(
            signer.sign(
                {
                    "kind": "rollcall.audit.checkpoint",
                    "seq": 5,
                    "hash": head_hash,
                    "at": old.isoformat(),
                    "made_at": old.isoformat(),
                }
            )
        )
        + "\n"
    )
    result = _verify(stale, public, "--max-age-minutes", "15")
    assert result.exit_code == 1
    assert "stale" in result.output
    assert _verify(stale, public, "--max-age-minutes", "180").exit_code == 0


def test_checkpoint_needs_a_key(logged: Engine, tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "checkpoint", "--out", str(tmp_path / "c.jsonl")])
    assert result.exit_code == 2
    assert "ROLLCALL_AUDIT_KEY_FILE" in result.output


def test_the_service_writes_checkpoints_on_its_own(
    db_url: str, key: tuple[Path, str], tmp_path: Path
) -> None:
    from api.app import create_app
    from rollcall.settings import Settings
    from tests.api.helpers import SECRET, TestClient

    key_path, public = key
    out = tmp_path / "service-checkpoints.jsonl"
    settings = Settings(
        database_url=db_url,
        jwt_secret=SECRET,
        audit_key_file=key_path,
        audit_checkpoint_file=out,
        audit_checkpoint_minutes=0.01,  # every 0.6 s for the test; minutes in service
    )
    with TestClient(create_app(settings)):
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while (
            datetime.now(UTC) < deadline
            and len(out.read_text().splitlines() if out.exists() else []) < 2
        ):
            import time

            time.sleep(0.2)
    lines = out.read_text().splitlines()
    assert len(lines) >= 2
    seqs = [json.loads(line)["document"]["seq"] for line in lines]
    assert seqs == sorted(seqs)
    verdict = signing.verify(json.loads(lines[-1]), [signing.read_public_key(public)])
    assert verdict.ok


def test_purge_writes_a_checkpoint(
    logged: Engine, key: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_path, public = key
    out = tmp_path / "after-purge.jsonl"
    monkeypatch.setenv("ROLLCALL_AUDIT_KEY_FILE", str(key_path))
    monkeypatch.setenv("ROLLCALL_AUDIT_CHECKPOINT_FILE", str(out))
    get_settings.cache_clear()
    purged = runner.invoke(app, ["purge"])
    assert purged.exit_code == 0, purged.output
    assert "audit checkpoint" in purged.output
    ok = _verify(out, public)
    assert ok.exit_code == 0, ok.output


def test_plain_verify_checks_the_configured_checkpoints(
    logged: Engine, key: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_path, _ = key
    out = tmp_path / "checkpoints.jsonl"
    _checkpoint(out, key_path)
    plain = runner.invoke(app, ["audit", "verify"])
    assert plain.exit_code == 0, plain.output
    assert "no checkpoint file" in plain.output

    monkeypatch.setenv("ROLLCALL_AUDIT_CHECKPOINT_FILE", str(out))
    monkeypatch.setenv("ROLLCALL_AUDIT_KEY_FILE", str(key_path))
    get_settings.cache_clear()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "no checkpoint file" not in ok.output
    with logged.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq >= 4"))
    _rehash(logged)
    cut = runner.invoke(app, ["audit", "verify"])
    assert cut.exit_code == 1
    assert "entry 5 seen by checkpoint line 1 is missing" in cut.output


def test_checkpoints_without_a_trusted_key_are_refused(
    logged: Engine, key: tuple[Path, str], tmp_path: Path
) -> None:
    key_path, _ = key
    out = tmp_path / "checkpoints.jsonl"
    _checkpoint(out, key_path)
    result = runner.invoke(app, ["audit", "verify", "--checkpoints", str(out)])
    assert result.exit_code == 2
    assert "no trusted key" in result.output
