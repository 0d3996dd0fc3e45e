"""Runtime settings from ROLLCALL_* environment variables, built on demand and validated once."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# An HS256 secret shorter than the hash output can be brute-forced offline from one token.
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Everything configurable about a Rollcall process. Tests build their own instance."""

    model_config = SettingsConfigDict(env_prefix="ROLLCALL_", extra="ignore")

    database_url: str = "sqlite:///./rollcall.db"
    # Dask (nightly --scheduler): TLS files for tls:// schedulers (CA, this client's certificate
    # and key, PEM), and how long to try reaching the scheduler before giving up.
    dask_tls_ca_file: Path | None = None
    dask_tls_cert_file: Path | None = None
    dask_tls_key_file: Path | None = None
    dask_connect_timeout_s: float = Field(default=20.0, gt=0.0, le=600.0)
    timezone: str = "Europe/London"
    policy: Path | None = None
    jwt_secret: SecretStr = SecretStr("")
    jwt_public_key: str | None = None
    # An identity provider's signing keys (JWKS, fetched and cached; a new kid is fetched again).
    jwt_jwks_url: str | None = None
    # Seconds before an unknown key id may trigger another JWKS fetch (rotation vs. a flood).
    jwt_jwks_cooldown_seconds: float = Field(default=30.0, ge=0.0, le=3600.0)
    # When set, tokens must carry exactly this issuer ("iss") / this audience ("aud").
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # The claim holding the caller's role: a string, or an array of which one is a Rollcall role.
    jwt_roles_claim: str = Field(default="role", min_length=1, max_length=100)
    # PEM (PKCS#8) Ed25519 private key that signs timeline exports; without it exports are refused.
    export_key_file: Path | None = None
    # Ed25519 key that signs audit checkpoints (default: the export key); kept off the database.
    audit_key_file: Path | None = None
    # When set, the service appends a signed checkpoint to this file every few minutes.
    audit_checkpoint_file: Path | None = None
    audit_checkpoint_minutes: float = Field(default=5.0, gt=0.0, le=1440.0)
    # A directory of the service's own for what it can rebuild but should not have to at every
    # start: the station index (seconds to build for hundreds of fences, a fraction of a second
    # to load). None: built at every start.
    cache_dir: Path | None = None
    log_level: str = "INFO"
    # How long a statement waits for a lock another session holds before it fails (PostgreSQL
    # lock_timeout; SQLite's busy timeout): a blocked import or batch says so instead of hanging.
    db_lock_timeout_s: float = Field(default=10.0, gt=0.0, le=3600.0)
    # PostgreSQL statement_timeout of the HTTP service: a request that cannot finish answers 503
    # well before a client's usual 30 s timeout, so its retry never races a late commit.
    api_statement_timeout_s: float = Field(default=20.0, gt=0.0, le=3600.0)
    # `rollcall serve` defaults (its options override them) and the service's database pool.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    db_pool_size: int = Field(default=8, ge=1, le=200)
    # Largest request body accepted (bytes); a batch of 10,000 pings is about 1.5 MB.
    max_body_bytes: int = Field(default=16 << 20, ge=1 << 16, le=1 << 30)
    # Tile URL template of the force's own map server ({z}/{x}/{y}); none: maps have no basemap.
    basemap_url: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr) -> SecretStr:
        given = value.get_secret_value()
        if given and len(given.encode("utf-8")) < MIN_SECRET_BYTES:
            raise ValueError(
                f"must be at least {MIN_SECRET_BYTES} bytes (32 random bytes: openssl rand -base64 32)"
            )
        return value

    @field_validator(
        "export_key_file",
        "audit_key_file",
        "audit_checkpoint_file",
        "cache_dir",
        "jwt_public_key",
        "jwt_jwks_url",
        "jwt_issuer",
        "jwt_audience",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("basemap_url", mode="before")
    @classmethod
    def _tile_template(cls, value: object) -> object:
        if value in (None, ""):
            return None
        text = str(value)
        if not text.startswith(("https://", "http://")) or not all(
            part in text for part in ("{z}", "{x}", "{y}")
        ):
            raise ValueError("must be an http(s) URL with {z}, {x} and {y}")
        return text

    @field_validator("database_url")
    @classmethod
    def _supported_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                "ROLLCALL_DATABASE_URL must be sqlite:///... or postgresql+psycopg://..."
            )
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
