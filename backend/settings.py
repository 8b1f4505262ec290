"""Backend settings (pydantic-settings): env vars ``HITL_*`` or keyword arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["BackendSettings"]


def _default_server_key() -> Path:
    return Path(platformdirs.user_data_dir("hitl")) / "server-ed25519.pem"


class BackendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HITL_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; a SQLite file under the user data dir when unset",
    )
    server_key: Path = Field(
        default_factory=_default_server_key,
        description="The backend's Ed25519 key (PEM, 0600) that signs audit checkpoints; "
        "created on first start",
    )
    redaction_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="HMAC key for PII placeholders (32+ characters); when unset, the file "
        "`redaction_key` beside the server key (0600, created on first start)",
    )
    redact_fields: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="More fields to redact at ingest, as dotted paths "
        "(HITL_REDACT_FIELDS=context.customer.name,proposed_action.args.name)",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token GET /metrics requires; when unset, only loopback clients "
        "may scrape it",
    )

    @field_validator("redact_fields", mode="before")
    @classmethod
    def _field_paths(cls, value: object) -> object:
        from backend.services.redaction import compile_field_paths

        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        if isinstance(value, list | tuple):
            compile_field_paths(tuple(str(p) for p in value))  # ValueError names a bad path
        return value

    claim_minutes: int = Field(default=10, ge=1, le=240, description="Claim lease length")
    max_wait_seconds: float = Field(default=60.0, ge=0, description="Cap on ?wait= long-polls")
    decision_max_skew_seconds: int = Field(
        default=600,
        ge=0,
        description="How far ahead of server time a signed decision's timestamp may be",
    )
    decision_max_age_seconds: int = Field(
        default=3 * 24 * 3600,
        ge=60,
        description="How old a signed decision may be when it arrives: offline consoles and "
        "air-gapped bundles sync later. Changed content or claims are refused regardless",
    )
    queue_page_max: int = Field(default=200, ge=1, le=1000)
    webhook_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Key agents' webhook secrets are derived from (32+ characters); when "
        "unset, the file `webhook_key` beside the server key (0600, created on first use). "
        "`hitl admin` must see the same key as `hitl serve`",
    )
    webhook_dispatch: bool = Field(
        default=True,
        description="Run the webhook dispatcher in this process (several processes may: "
        "deliveries are claimed under leases)",
    )
    webhook_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the dispatcher looks for new events and due retries when "
        "nothing in this process woke it",
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Timeout of one delivery attempt (the whole request)"
    )
    webhook_backoff_seconds: float = Field(
        default=5.0, gt=0, description="Delay after the first failed attempt; doubles after each"
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600.0, gt=0, description="The longest delay between two attempts"
    )
    webhook_max_attempts: int = Field(
        default=30, ge=1, description="Attempts before a delivery is given up (state dead)"
    )
    webhook_rotation_grace_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="After a secret rotation, deliveries are signed with the old secret too "
        "for this long, so receivers can switch without losing any",
    )
    ingest_rate: int = Field(
        default=1200,
        ge=0,
        description="Escalations an agent may submit in any 60 s (0: no limit); per process",
    )
    ingest_burst: int = Field(
        default=100,
        ge=0,
        description="Escalations an agent may submit in any 1 s (0: no limit); per process",
    )
    sla_sweep_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How often the SLA sweeper looks for undecided cases past their due time "
        "and applies their fallback action; 0 turns it off (for a process that must not sweep)",
    )
    sla_sweep_batch: int = Field(
        default=100, ge=1, le=10_000, description="Cases the sweeper handles per query"
    )
    policy_refresh_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often ingest checks for a newly activated policy version "
        "(`hitl policy push` takes effect within this many seconds, no restart)",
    )
