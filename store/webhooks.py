"""Webhook signatures as the Standard Webhooks specification defines them.

A delivery carries three headers: ``webhook-id`` (the same on every retry of one
message), ``webhook-timestamp`` (integer Unix seconds of this attempt) and
``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` of
``"{id}.{timestamp}.{body}"`` under the endpoint's secret. Secrets are shown as
``whsec_`` + base64 of their bytes. Any Standard Webhooks library verifies them
(``standardwebhooks`` on PyPI: ``Webhook(secret).verify(body, headers)``).

hitl never stores a secret: :func:`derive_secret` computes it from the server's webhook
key, the agent id and the secret's version, so a copy of the database alone cannot sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

__all__ = [
    "SECRET_PREFIX",
    "derive_secret",
    "format_secret",
    "key_id",
    "parse_secret",
    "sign",
    "signature_header",
]

SECRET_PREFIX = "whsec_"  # noqa: S105  (the spec's prefix, not a secret)
#: Bytes in a derived secret (the spec asks for 24 to 64).
SECRET_BYTES = 32


def derive_secret(webhook_key: bytes, *, agent_id: int, version: int) -> bytes:
    """The agent's signing secret number ``version``: HMAC-SHA256 under the server key.

    Deterministic, so nothing secret is stored, and a rotation (the next version) yields an
    unrelated secret.
    """
    if version < 1:
        raise ValueError("secret versions start at 1")
    label = f"hitl-webhook-secret/v1/agent/{agent_id}/version/{version}".encode()
    return hmac.new(webhook_key, label, hashlib.sha256).digest()[:SECRET_BYTES]


def key_id(webhook_key: bytes) -> str:
    """A fingerprint of the server's webhook key (16 hex), safe to store beside its uses."""
    return hmac.new(webhook_key, b"hitl-webhook-key-id", hashlib.sha256).hexdigest()[:16]


def format_secret(secret: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(secret).decode("ascii")


def parse_secret(text: str) -> bytes:
    """The bytes of a ``whsec_…`` secret (the prefix is optional, as in the spec's libraries)."""
    raw = text.removeprefix(SECRET_PREFIX)
    try:
        secret = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from exc
    if not secret:
        raise ValueError("the webhook secret is empty")
    return secret


def sign(secret: bytes, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature over ``{msg_id}.{timestamp}.{body}``."""
    if "." in msg_id:
        raise ValueError("a webhook id must not contain '.'")
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Iterable[bytes], *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret (several while a rotated
    secret is still honoured), space-separated."""
    return " ".join(sign(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets)
