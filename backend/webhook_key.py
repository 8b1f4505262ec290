"""The server's webhook key: agents' webhook signing secrets are derived from it.

``HITL_WEBHOOK_KEY`` if set, else the file ``webhook_key`` beside the server key (32 random
bytes as hex, mode 0600, created on first use, like the redaction key). The database holds
only each secret's version and this key's fingerprint, so a stolen database alone signs
nothing; whoever holds this key can re-derive every agent's secret, so guard it like the
server key. ``hitl admin`` (which shows secrets) and ``hitl serve`` (which signs with them)
must see the same key: the dispatcher refuses to sign with a key whose fingerprint differs
from the one an agent's secret was issued under.
"""

from __future__ import annotations

from backend.redaction_key import load_or_create_key
from backend.settings import BackendSettings

__all__ = ["FILE_NAME", "webhook_key"]

FILE_NAME = "webhook_key"


def webhook_key(settings: BackendSettings) -> bytes:
    if settings.webhook_key is not None:
        return settings.webhook_key.get_secret_value().encode()
    return load_or_create_key(settings.server_key.parent / FILE_NAME, what="webhook key")
