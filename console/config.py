"""Console settings: a TOML file in the user config dir, overridden by ``HITL_*`` env vars.

A plain pydantic model that reads its sources itself (arguments, then ``HITL_<FIELD>``,
then the file): pydantic-settings, which the backend uses, took a tenth of the console's
start-up to import.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ConsoleSettings", "config_path", "load_settings", "save_setting"]

APP_NAME = "hitl"


def config_path() -> Path:
    """``$HITL_CONFIG`` or ``<user config dir>/hitl/config.toml``."""
    explicit = os.environ.get("HITL_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


ENV_PREFIX = "HITL_"


class ConsoleSettings(BaseModel):
    """Where the console connects and how it finds its secrets.

    Each field comes from the constructor's arguments, else the environment variable
    ``HITL_<FIELD>``, else the config file (:func:`config_path`), else its default.
    """

    model_config = ConfigDict(extra="ignore")

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
    theme: str = Field(
        default="textual-dark",
        description="Color theme (any Textual theme: textual-dark, nord, gruvbox, "
        "textual-light, ...); picking one with ctrl+t saves it here",
    )
    after_decision: Literal["next", "queue"] = Field(
        default="next",
        description="After a decision: open the next case in the queue (triage), or go "
        "back to the queue",
    )
    bell: bool = Field(
        default=True,
        description="Ring the terminal bell when a new critical case arrives in the queue "
        "(b toggles it and saves the choice here)",
    )
    keymap: dict[str, str] = Field(
        default_factory=dict,
        description='Key overrides by binding id, e.g. {"case.approve" = "A", '
        '"queue.down" = "j,down,ctrl+n"} (ids are listed by `?` and the palette)',
    )

    @model_validator(mode="before")
    @classmethod
    def _sources(cls, given: Any) -> Any:
        if not isinstance(given, dict):
            return given
        merged: dict[str, Any] = {}
        path = config_path()
        if path.is_file():
            import tomllib

            with path.open("rb") as fh:
                merged.update(tomllib.load(fh))
        for name, field in cls.model_fields.items():
            value = os.environ.get(ENV_PREFIX + name.upper())
            if value is None:
                continue
            if field.annotation is not None and "dict" in str(field.annotation):
                value = json.loads(value)  # structured values are JSON in the environment
            merged[name] = value
        merged.update(given)
        return merged


def load_settings(**overrides: object) -> ConsoleSettings:
    clean = {k: v for k, v in overrides.items() if v is not None}
    return ConsoleSettings(**clean)  # type: ignore[arg-type]


def save_setting(key: str, value: str | bool, path: Path | None = None) -> Path:
    """Set a top-level string or boolean setting in the config file, keeping everything
    else in it.

    The line ``key = ...`` is replaced if present, else added before the first table; a
    new file is created readable by its owner only (it may later hold a token).
    """
    path = path or config_path()
    import tomllib

    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    tomllib.loads("\n".join(lines))  # refuse to edit a file that does not parse
    # A JSON string is a valid TOML basic string; JSON true/false are TOML booleans.
    entry = f"{key} = {json.dumps(value)}"
    assign = re.compile(rf"^\s*{re.escape(key)}\s*=")
    table = re.compile(r"^\s*\[")
    for n, line in enumerate(lines):
        if table.match(line):
            lines.insert(n, entry)
            break
        if assign.match(line):
            lines[n] = entry
            break
    else:
        lines.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o777)
    os.replace(tmp, path)
    return path
