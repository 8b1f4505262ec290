"""The server's redaction key: the HMAC key behind PII placeholders (see services.redaction).

Like the server key it is created on first start (32 random bytes, hex, mode 0600) and
must stay the same for placeholders to keep matching across restarts and processes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from backend.settings import BackendSettings

__all__ = ["load_or_create_key", "load_or_create_redaction_key", "redaction_key"]

FILE_NAME = "redaction_key"


def redaction_key(settings: BackendSettings) -> bytes:
    """``HITL_REDACTION_KEY`` if set, else the ``redaction_key`` file beside the server key."""
    if settings.redaction_key is not None:
        return settings.redaction_key.get_secret_value().encode()
    return load_or_create_redaction_key(settings.server_key.parent / FILE_NAME)


def load_or_create_redaction_key(path: Path) -> bytes:
    return load_or_create_key(path, what="redaction key")


def load_or_create_key(path: Path, *, what: str) -> bytes:
    """Read the key at ``path``, creating it (0600, dir 0700) if missing.

    Creation is atomic and never overwrites: several backend processes starting at once
    on a fresh data dir all end up with the key the first one wrote.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(
            f"{path} is readable by others (mode {mode:o}); chmod 600 it before starting"
        )
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError as exc:
        raise ValueError(f"{path} must hold the {what} as hex") from exc
    if len(key) < 32:
        raise ValueError(f"{path} holds a key of {len(key)} bytes; it needs 32 or more")
    return key
