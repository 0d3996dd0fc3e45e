"""``rollcall serve`` and ``token``: the HTTP API and the web app, and development tokens."""

from __future__ import annotations

import ipaddress
import secrets
import socket
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rollcall.commands.common import load_settings
from rollcall.settings import Settings

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default ROLLCALL_HOST, loopback)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port (default ROLLCALL_PORT, 8000).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker processes (default ROLLCALL_WORKERS, 1)."),
    ] = None,
    dev_login: Annotated[
        bool,
        typer.Option(
            "--dev-login",
            help="Development only: a sign-in page at /app/login issuing 30-minute tokens for "
            "any role (refused with ROLLCALL_JWT_PUBLIC_KEY set).",
        ),
    ] = False,
) -> None:
    """Run the HTTP API and the web app under /app (uvicorn). Logs are JSON lines on stderr."""
    from api.metrics import remove_metrics_dir, serve_metrics_dir
    from api.observability import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    host = settings.host if host is None else host
    port = settings.port if port is None else port
    workers = settings.workers if workers is None else workers
    if dev_login:
        settings = _dev_login_settings(settings, host, port, workers)
    _warn_about(settings, host)
    # Before the app exists: under several workers its counters live in shared files.
    metrics_dir, own_metrics_dir = serve_metrics_dir(workers)
    try:
        target = _app_target(settings, workers, dev_login=dev_login)
        _run_server(target, host, port, workers, metrics_dir)
    finally:
        if own_metrics_dir and metrics_dir is not None:
            remove_metrics_dir(metrics_dir)


def _dev_login_settings(settings: Settings, host: str, port: int, workers: int) -> Settings:
    """``settings`` for ``--dev-login`` (a secret of this process when none is set), or exit 2
    when the setup refuses it (a public key configured, more than one worker)."""
    from pydantic import SecretStr

    if settings.jwt_public_key:
        typer.echo("error: --dev-login is refused while ROLLCALL_JWT_PUBLIC_KEY is set", err=True)
        raise typer.Exit(2)
    if workers > 1:
        typer.echo("error: --dev-login runs with one worker", err=True)
        raise typer.Exit(2)
    if not settings.jwt_secret.get_secret_value():
        # tokens of this process only: they stop working when it stops
        settings = settings.model_copy(update={"jwt_secret": SecretStr(secrets.token_urlsafe(32))})
    typer.echo(
        f"development sign-in: http://{host}:{port}/app/login (never expose this server)",
        err=True,
    )
    return settings


def _warn_about(settings: Settings, host: str) -> None:
    """Warnings on stderr for a setup that serves but refuses some requests, or is exposed."""
    if not settings.jwt_secret.get_secret_value() and not settings.jwt_public_key:
        typer.echo(
            "warning: neither ROLLCALL_JWT_SECRET nor ROLLCALL_JWT_PUBLIC_KEY is set: "
            "every authenticated request will be refused",
            err=True,
        )
    if settings.export_key_file is None:
        typer.echo(
            "warning: ROLLCALL_EXPORT_KEY_FILE is not set: timeline exports will be refused "
            "(rollcall timeline keygen FILE makes a key)",
            err=True,
        )
    try:
        if not ipaddress.ip_address(host).is_loopback:
            typer.echo(f"warning: listening on {host}, not loopback: put TLS in front", err=True)
    except ValueError:
        pass


def _app_target(settings: Settings, workers: int, *, dev_login: bool) -> FastAPI | str:
    """The app (one worker) or its factory's import path (several), after checking the token,
    signing and policy settings here, in the parent: a configuration error exits 2 naming the
    setting."""
    from api.app import create_app
    from api.auth import TokenConfigError, TokenVerifier
    from api.signing import SigningConfigError, signer_from_settings
    from rules.policy import PolicyError, load_policy

    try:
        TokenVerifier(settings)
        signer_from_settings(settings)
        load_policy(settings.policy)
        if workers == 1:
            return create_app(settings, dev_login=dev_login)
        return "api.app:app_from_environment"
    except (TokenConfigError, SigningConfigError, PolicyError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _run_server(
    target: FastAPI | str, host: str, port: int, workers: int, metrics_dir: Path | None
) -> None:
    """Serve ``target`` with uvicorn until stopped: in this process, or in ``workers`` worker
    processes sharing one listening socket (their metrics in ``metrics_dir``)."""
    import uvicorn

    config = uvicorn.Config(
        target,
        host=host,
        port=port,
        factory=workers > 1,
        workers=workers,
        # Workers import Polars, H3 and GeoAlchemy (several seconds on a busy host): the default
        # 5 s health check would kill and respawn them forever.
        timeout_worker_healthcheck=60,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    _supervise(config, metrics_dir)


def _supervise(config: uvicorn.Config, metrics_dir: Path | None) -> None:
    """Run ``config.workers`` uvicorn workers on one socket, each worker that ends (killed,
    replaced on SIGHUP) marked dead in the metrics directory."""
    from uvicorn.supervisors import Multiprocess

    from api.metrics import worker_gone

    class Supervisor(Multiprocess):
        def _reap(self, before: set[int | None]) -> None:
            if metrics_dir is not None:
                for pid in before - {p.pid for p in self.processes}:
                    if pid is not None:
                        worker_gone(pid, metrics_dir)

        def keep_subprocess_alive(self) -> None:
            before = {p.pid for p in self.processes}
            super().keep_subprocess_alive()
            self._reap(before)

        def handle_signals(self) -> None:
            before = {p.pid for p in self.processes}
            super().handle_signals()
            self._reap(before)

    sock = config.bind_socket()
    # uvicorn's shared socket has proto 0, so asyncio never sets TCP_NODELAY on the connections
    # it accepts: Nagle plus delayed ACK then add ~40 ms to every keep-alive response. Linux
    # copies the listener's TCP_NODELAY to each accepted connection.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        Supervisor(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass


def token(
    role: Annotated[str, typer.Option(help="ingest, admin, hr, investigator, officer, auditor")],
    sub: Annotated[str, typer.Option(help="Subject: who the token is for.")],
    officer_id: Annotated[str | None, typer.Option(help="Required for --role officer.")] = None,
    ttl_minutes: Annotated[int, typer.Option(min=1, max=7 * 24 * 60)] = 60,
) -> None:
    """Print an HS256 token signed with ROLLCALL_JWT_SECRET (development and tests)."""
    from api.auth import TokenConfigError, issue_token

    settings = load_settings()
    try:
        text = issue_token(
            settings.jwt_secret.get_secret_value(),
            role=role,
            sub=sub,
            officer_id=officer_id,
            ttl=timedelta(minutes=ttl_minutes),
        )
    except TokenConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``token`` to the ``rollcall`` application."""
    app.command("serve")(serve)
    app.command("token")(token)
