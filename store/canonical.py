"""RFC 8785 (JCS) canonical JSON and the digests built on it.

Every digest hitl computes over a JSON object (a case's content digest, an audit
event's hash) goes through :func:`canonical_json`, so that two processes, or an
offline verifier written in another language, get the same bytes.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

__all__ = ["canonical_json", "json_digest", "sha256_hex"]


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` (JSON-compatible: dict, list, str, int, float, bool, None)."""
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical JSON of ``value``."""
    return "sha256:" + sha256_hex(canonical_json(value))
