"""A short-lived cache of verified tokens."""

from __future__ import annotations

import time

from store.tables import Agent, Supervisor

__all__ = ["TOKEN_TTL_SECONDS", "PrincipalCache"]

#: How long a verified token is trusted without asking the database again.
TOKEN_TTL_SECONDS = 30.0


class PrincipalCache:
    """token hash -> (principal, expiry). Keeps auth off the database on hot paths."""

    def __init__(self, ttl: float = TOKEN_TTL_SECONDS, size: int = 4096) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[Agent | Supervisor, float]] = {}

    def get(self, key: str) -> Agent | Supervisor | None:
        hit = self._entries.get(key)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, key: str, principal: Agent | Supervisor) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (principal, time.monotonic() + self.ttl)
