"""Reaching a Dask scheduler: an unreachable one, or a tls:// one without certificates, ends
`rollcall nightly --scheduler` with one line saying what to do; with the certificates, a day is
computed on a real TLS cluster (scheduler and worker processes) exactly as in-process."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from distributed import get_task_stream
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from jobs.executors import SchedulerUnreachable, connect_scheduler
from jobs.nightly import run_nightly
from rollcall.cli import app
from rollcall.settings import get_settings
from rules.policy import Policy
from tests.jobs.conftest import RUN_AT, START, TZ
from tests.jobs.test_nightly import snapshot


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it once closed


def test_tls_scheduler_needs_all_three_files(tmp_path: Path) -> None:
    with pytest.raises(SchedulerUnreachable, match="ROLLCALL_DASK_TLS_CA_FILE"):
        connect_scheduler("tls://127.0.0.1:8786")
    missing = tmp_path / "ca.pem"
    with pytest.raises(SchedulerUnreachable, match=f"{missing} does not exist"):
        connect_scheduler(
            "tls://127.0.0.1:8786", ca_file=missing, cert_file=missing, key_file=missing
        )
    with pytest.raises(SchedulerUnreachable, match="is not tls://"):
        connect_scheduler("tcp://127.0.0.1:8786", ca_file=missing)


def test_unreachable_scheduler_is_one_line(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    monkeypatch.setenv("ROLLCALL_DASK_CONNECT_TIMEOUT_S", "2")
    get_settings.cache_clear()
    started = time.monotonic()
    try:
        result = CliRunner().invoke(
            app, ["nightly", "--date", "2026-10-24", "--scheduler", address]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot reach the Dask scheduler at {address} within 2 s")
    assert "start it (dask scheduler)" in lines[0]
    assert "Traceback" not in result.output
    assert time.monotonic() - started < 60


# A real TLS cluster: `dask scheduler` and `dask worker` processes started as jobs/README.md
# documents, on certificates made here.


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    out: Path,
    stem: str,
    subject: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A key and certificate written as ``stem.pem`` and ``stem.key``: a CA when ``issuer`` is
    None, otherwise a client-and-server certificate for 127.0.0.1 signed by ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )
    if issuer is None:
        builder = builder.issuer_name(_name(subject)).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
        signer = key
    else:
        builder = (
            builder.issuer_name(issuer[0].subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        signer = issuer[1]
    cert = builder.sign(signer, hashes.SHA256())
    (out / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / f"{stem}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key


@dataclass(frozen=True)
class TlsCluster:
    address: str
    certs: Path  # ca, driver: signed by the cluster's CA; stranger-ca, stranger: another CA's


def _free_port() -> int:
    return _closed_port()


def _tls_args(certs: Path, stem: str) -> list[str]:
    return [
        "--tls-ca-file",
        str(certs / "ca.pem"),
        "--tls-cert",
        str(certs / f"{stem}.pem"),
        "--tls-key",
        str(certs / f"{stem}.key"),
    ]


def _wait_for(proc: subprocess.Popen[bytes], log: Path, text: str, deadline: float) -> None:
    while text not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"dask did not start: {log.read_text()[-1500:]}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsCluster]:
    """A scheduler and one worker on tls://127.0.0.1 requiring encryption, as processes."""
    certs = tmp_path_factory.mktemp("dask-pki")
    ca = _certificate(certs, "ca", "rollcall test CA", None)
    for stem in ("scheduler", "worker", "driver"):
        _certificate(certs, stem, f"rollcall {stem}", ca)
    stranger = _certificate(certs, "stranger-ca", "another CA", None)
    _certificate(certs, "stranger", "rollcall driver", stranger)
    address = f"tls://127.0.0.1:{_free_port()}"
    dask = str(Path(sys.executable).with_name("dask"))
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION": "True"}
    deadline = time.monotonic() + 25
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for role, args in (
            (
                "scheduler",
                [
                    "--protocol",
                    "tls",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    address.rsplit(":", 1)[1],
                    "--no-dashboard",
                ],
            ),
            (
                "worker",
                [address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard"],
            ),
        ):
            log = certs / f"{role}.log"
            with log.open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [dask, role, *args, *_tls_args(certs, role)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=env,
                    )
                )
            _wait_for(
                procs[-1],
                log,
                "Scheduler at:" if role == "scheduler" else "Registered to:",
                deadline,
            )
        yield TlsCluster(address, certs)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_nightly_day_computed_on_a_tls_cluster(
    tls_cluster: TlsCluster, factory: sessionmaker[Session], policy: Policy
) -> None:
    """The project's connect function with the driver's certificates reaches the cluster, every
    connection is TLS, and one day computed there equals the day computed in this process."""
    certs = tls_cluster.certs
    client = connect_scheduler(
        tls_cluster.address,
        ca_file=certs / "ca.pem",
        cert_file=certs / "driver.pem",
        key_file=certs / "driver.key",
        timeout_s=10,
    )
    try:
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 1
        assert all(w.startswith("tls://127.0.0.1:") for w in workers)
        assert client.scheduler.address == tls_cluster.address
        run_nightly(factory, START, START, policy=policy, tz=TZ, clock=lambda: RUN_AT)
        in_process = snapshot(factory)
        with get_task_stream(client) as stream:
            report = run_nightly(
                factory, START, START, policy=policy, tz=TZ, clock=lambda: RUN_AT, scheduler=client
            )
    finally:
        client.close()
    # Every officer partition of the day ran on the TLS worker.
    ran = [t for t in stream.data if str(t["key"]).startswith("compute_part")]
    assert len(ran) == report.days[0].parts >= 1
    assert {t["worker"] for t in ran} == set(workers)
    assert in_process["days"]
    assert snapshot(factory) == in_process


@pytest.mark.slow
@pytest.mark.parametrize("stem", ["stranger", None], ids=["other-ca", "plain-tcp"])
def test_client_without_the_cluster_certificates_is_refused(
    tls_cluster: TlsCluster, db_url: str, monkeypatch: pytest.MonkeyPatch, stem: str | None
) -> None:
    """A driver whose certificate another CA signed, or one speaking plain tcp:// to the TLS
    port, is refused, and `rollcall nightly` says so in one line."""
    certs = tls_cluster.certs
    address = tls_cluster.address
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    monkeypatch.setenv("ROLLCALL_DASK_CONNECT_TIMEOUT_S", "2")
    if stem is None:
        address = address.replace("tls://", "tcp://")
    else:
        monkeypatch.setenv("ROLLCALL_DASK_TLS_CA_FILE", str(certs / "stranger-ca.pem"))
        monkeypatch.setenv("ROLLCALL_DASK_TLS_CERT_FILE", str(certs / f"{stem}.pem"))
        monkeypatch.setenv("ROLLCALL_DASK_TLS_KEY_FILE", str(certs / f"{stem}.key"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app, ["nightly", "--date", "2026-10-24", "--scheduler", address]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot reach the Dask scheduler at {address} within 2 s")
    assert "Traceback" not in result.output
