"""Deployment files: the systemd units verify, the image is built from the lock without dev
dependencies and runs as a non-root user, the compose file wires database, API and schedule."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
ROLLCALL = str(Path(sys.executable).with_name("rollcall"))


def _verify(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in directory.iterdir())],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_units_verify(tmp_path: Path) -> None:
    # The units name the installed /opt/rollcall; here the executable is this environment's.
    for unit in UNITS.iterdir():
        text = unit.read_text().replace("/opt/rollcall/bin/rollcall", ROLLCALL)
        (tmp_path / unit.name).write_text(text)
    result = _verify(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    # The check is real: a broken unit fails it.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rollcall-broken.service").write_text("[Service]\nExecStart=rollcall serve\n")
    assert _verify(broken).returncode != 0


def test_units_run_the_documented_commands() -> None:
    api = (UNITS / "rollcall-api.service").read_text()
    nightly = (UNITS / "rollcall-nightly.service").read_text()
    timer = (UNITS / "rollcall-nightly.timer").read_text()
    assert "ExecStart=/opt/rollcall/bin/rollcall serve" in api
    assert "User=rollcall" in api
    assert "nightly --pending --wait" in nightly
    assert "ExecStart=/opt/rollcall/bin/rollcall purge" in nightly
    assert "OnCalendar=*-*-* 02:30:00" in timer
    assert "Persistent=true" in timer


def test_dockerfile_is_multi_stage_non_root_and_without_dev_dependencies() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2
    syncs = [line for line in lines if "uv sync" in line]
    assert syncs
    assert all("--frozen" in line and "--no-dev" in line for line in syncs)
    assert "COPY pyproject.toml uv.lock ./" in lines
    user = [line for line in lines if line.startswith("USER ")]
    assert user == ["USER rollcall:rollcall"]
    assert not any(line.startswith("COPY tests") for line in lines)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"tests", ".venv", "*.db"} <= set(ignored)


def test_compose_wires_postgis_api_migrations_and_nightly() -> None:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = doc["services"]
    assert set(services) == {"db", "migrate", "api", "nightly"}
    assert services["db"]["image"].startswith("postgis/postgis:")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]
    assert "rollcall nightly --pending --wait" in services["nightly"]["command"][0]
