"""Console settings: a TOML file in the user config dir, overridden by ``HITL_*`` env vars."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["ConsoleSettings", "config_path", "load_settings"]

APP_NAME = "hitl"


def config_path() -> Path:
    """``$HITL_CONFIG`` or ``<user config dir>/hitl/config.toml``."""
    explicit = os.environ.get("HITL_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class ConsoleSettings(BaseSettings):
    """Where the console connects and how it finds its secrets."""

    model_config = SettingsConfigDict(env_prefix="HITL_", extra="ignore")

    url: str = Field(default="http://127.0.0.1:8765", description="Backend base URL")
    token: str | None = Field(
        default=None,
        description="Supervisor token; normally kept in the OS keyring by `hitl login`",
    )
    key_store: Literal["keyring", "file"] = Field(
        default="keyring",
        description="Where the private signing key lives: the OS keyring, or an "
        "encrypted OpenSSH key file (opt-in for headless boxes)",
    )
    key_file: Path | None = Field(
        default=None, description="The encrypted key file, when key_store = 'file'"
    )
    key_passphrase: str | None = Field(
        default=None,
        description="Passphrase of the key file; prompted for when unset. Prefer the prompt.",
    )
    demo: bool = Field(default=False, description="Set by `hitl demo`; shows a DEMO banner")
    keyring_timeout: float = Field(
        default=5.0, description="Seconds before a keyring call is given up as locked"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        return (init_settings, env_settings, toml)


def load_settings(**overrides: object) -> ConsoleSettings:
    clean = {k: v for k, v in overrides.items() if v is not None}
    return ConsoleSettings(**clean)  # type: ignore[arg-type]
