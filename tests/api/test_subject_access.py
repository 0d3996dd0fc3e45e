"""What an officer can see about themselves: the access log (with open cases hidden until closed
or old enough) and the signed subject access bundle, over HTTP and the command line."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api import signing
from api.bundle import verify_bundle
from rollcall.cli import app
from rollcall.settings import get_settings
from store.access import access_log
from tests.api.helpers import Api

DAYS = {"from": "2026-10-05", "to": "2026-10-07"}


def _log(api: Api, role: str = "officer", officer: str | None = "O1") -> list[tuple[str, ...]]:
    r = api.client.get("/v1/officers/O1/access-log", headers=api.headers(role, officer))
    assert r.status_code == 200, r.text
    return [(e["actor"], e["role"], e["action"], e["case_ref"] or "-") for e in r.json()["entries"]]


def test_access_log_hides_open_cases_until_closed(world: Api) -> None:
    hr, inv = world.headers("hr", sub="hr.lee"), world.headers("investigator", sub="det.x")
    assert world.client.get("/v1/officers/O1/attendance", params=DAYS, headers=hr).is_success
    read = world.client.get(
        "/v1/officers/O1/timeline", params={**DAYS, "case_ref": "CASE-OPEN"}, headers=inv
    )
    assert read.status_code == 200, read.text
    refused = world.client.get("/v1/officers/O1/timeline", params=DAYS, headers=inv)
    assert refused.status_code == 400  # no case_ref: refused, and not a read
    assert _log(world) == [("hr.lee", "hr", "read.attendance", "-")]
    assert _log(world, "auditor", None) == [
        ("hr.lee", "hr", "read.attendance", "-"),
        ("officer-user", "officer", "read.access_log", "-"),
    ]
    # Another officer, HR and investigators cannot read it.
    for headers in (world.headers("officer", "O2"), hr, inv):
        r = world.client.get("/v1/officers/O1/access-log", headers=headers)
        assert r.status_code == 403
    closed = world.client.post("/v1/cases/CASE-OPEN/close", headers=inv)
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_by"] == "det.x"
    assert ("det.x", "investigator", "read.timeline", "CASE-OPEN") in _log(world)
    assert (
        world.client.get(
            "/v1/officers/NOPE/access-log", headers=world.headers("auditor")
        ).status_code
        == 404
    )


def test_open_case_disclosed_after_the_policy_days(world: Api) -> None:
    inv = world.headers("investigator", sub="det.y")
    r = world.client.get(
        "/v1/officers/O1/attendance", params={**DAYS, "case_ref": "CASE-9"}, headers=inv
    )
    assert r.status_code == 200
    now = world.now()
    with world.factory() as session:
        early, _ = access_log(session, "O1", now=now + timedelta(days=89), disclosure_days=90)
        late, _ = access_log(session, "O1", now=now + timedelta(days=90), disclosure_days=90)
    assert [e.case_ref for e in early] == []
    assert [(e.actor, e.case_ref) for e in late] == [("det.y", "CASE-9")]


def _bundle(api: Api) -> bytes:
    r = api.client.get("/v1/officers/O1/subject-access", headers=api.headers("officer", "O1"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    return r.content


def test_bundle_holds_everything_and_verifies(world: Api, export_key_file: Path) -> None:
    answer = world.client.post(
        "/v1/flags/f-mock-0001/responses",
        json={"category": "device_problem", "statement": "IT installed a test app."},
        headers=world.headers("officer", "O1"),
    )
    assert answer.status_code == 200
    world.client.get(
        "/v1/officers/O1/attendance",
        params={**DAYS, "case_ref": "CASE-5"},
        headers=world.headers("investigator"),
    )
    data = _bundle(world)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        profile = json.loads(archive.read("profile.json"))
        flags = json.loads(archive.read("flags.json"))
        days = archive.read("daily_results.csv").decode().splitlines()
        shifts = archive.read("shift_versions.csv").decode().splitlines()
        log = archive.read("access_log.csv").decode()
        manifest = json.loads(archive.read("manifest.json"))
    assert names == {
        "README.txt",
        "manifest.json",
        "profile.json",
        "devices.csv",
        "badges.csv",
        "shift_versions.csv",
        "overtime_claims.csv",
        "pings.csv",
        "swipes.csv",
        "visits.csv",
        "daily_results.csv",
        "flags.json",
        "day_contests.csv",
        "adjustments.csv",
        "access_log.csv",
    }
    assert profile["display_name"] == "Alex Smith"
    assert {f["flag_id"]: len(f["responses"]) for f in flags} == {
        "f-mock-0001": 1,
        "f-share-0001": 0,
    }
    assert len(days) == 1 + 3
    assert shifts[0].startswith("shift_id,version,")
    assert len(shifts) == 2
    assert "CASE-5" not in log  # an open case's read stays hidden in the bundle too
    assert manifest["document"]["officer_id"] == "O1"
    public = signing.load_signer(export_key_file).public_key
    assert verify_bundle(data, [public]).ok
    # Any change to any file, or a file added, is caught.
    tampered = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(tampered, "w") as dst,
    ):
        for name in src.namelist():
            body = src.read(name)
            dst.writestr(name, body.replace(b"Alex Smith", b"Alex Smyth"))
    verdict = verify_bundle(tampered.getvalue(), [public])
    assert (verdict.outcome, verdict.reason) == (
        signing.Outcome.ALTERED,
        "profile.json does not match its signed digest",
    )
    other = signing.generate_key_file(export_key_file.with_name("other.pem")).public_key
    assert verify_bundle(data, [other]).outcome is signing.Outcome.UNKNOWN_KEY
    assert verify_bundle(b"not a zip", [public]).outcome is signing.Outcome.MALFORMED
    # Only the officer and auditors.
    for role, officer in (("officer", "O2"), ("hr", None), ("investigator", None)):
        r = world.client.get("/v1/officers/O1/subject-access", headers=world.headers(role, officer))
        assert r.status_code == 403, role


def test_cli_bundle_and_verify(
    world: Api,
    db_url: str,
    export_key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    monkeypatch.setenv("ROLLCALL_EXPORT_KEY_FILE", str(export_key_file))
    get_settings.cache_clear()
    cli = CliRunner()
    out = tmp_path / "o1.zip"
    try:
        made = cli.invoke(app, ["subject-access", "O1", "--out", str(out)])
        assert made.exit_code == 0, made.output
        assert "signed with k-" in made.stdout
        key = tmp_path / "export.pub"
        key.write_text(signing.public_key_text(signing.load_signer(export_key_file).public_key))
        ok = cli.invoke(app, ["subject-access-verify", str(out), "--public-key", str(key)])
        assert ok.exit_code == 0, ok.output
        assert "14 files match their digests" in ok.stdout
        broken = tmp_path / "broken.zip"
        with zipfile.ZipFile(out) as src, zipfile.ZipFile(broken, "w") as dst:
            for name in src.namelist():
                dst.writestr(name, src.read(name))
            dst.writestr("extra.csv", b"a\n1\n")
        bad = cli.invoke(app, ["subject-access-verify", str(broken), "--public-key", str(key)])
        assert bad.exit_code == 1
        assert "files added ['extra.csv']" in bad.stderr
        again = cli.invoke(app, ["subject-access", "O1", "--out", str(out)])
        assert again.exit_code == 2
        unknown = cli.invoke(app, ["subject-access", "NOPE", "--out", str(tmp_path / "n.zip")])
        assert unknown.exit_code == 1
    finally:
        get_settings.cache_clear()
    with world.factory() as session:
        entries, _ = access_log(session, "O1", now=datetime.now(UTC), disclosure_days=90)
    assert [(e.role, e.action) for e in entries][-1:] == [("cli", "export.subject_access")]
