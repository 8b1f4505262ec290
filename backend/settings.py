"""Backend settings (pydantic-settings): env vars ``HITL_*`` or keyword arguments."""

from __future__ import annotations

from pathlib import Path

import platformdirs
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    claim_minutes: int = Field(default=10, ge=1, le=240, description="Claim lease length")
    max_wait_seconds: float = Field(default=60.0, ge=0, description="Cap on ?wait= long-polls")
    decision_max_skew_seconds: int = Field(
        default=600, description="How far a signed decision's timestamp may be from server time"
    )
    queue_page_max: int = Field(default=200, ge=1, le=1000)
    policy_refresh_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often ingest checks for a newly activated policy version "
        "(`hitl policy push` takes effect within this many seconds, no restart)",
    )
