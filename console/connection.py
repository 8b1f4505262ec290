"""Whether the backend answers, and when the console tries again (no Textual here).

The app holds one :class:`Connection`; workers report each request's fate to it and a
reconnect worker retries with exponential backoff while the backend is away.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = ["Backoff", "Connection"]


@dataclass(frozen=True)
class Connection:
    state: Literal["online", "offline"] = "online"
    #: Why the backend is considered away (the last error).
    detail: str = ""
    #: Reconnection attempts made so far.
    attempts: int = 0
    #: When the next attempt is due (by the app's clock), if one is scheduled.
    retry_at: datetime | None = None

    @property
    def online(self) -> bool:
        return self.state == "online"


@dataclass
class Backoff:
    """Delays of ``first``, twice that, and so on up to ``cap`` seconds, each +-``jitter``
    (so consoles that lost the same backend do not all come back at the same instant)."""

    first: float = 1.0
    cap: float = 30.0
    jitter: float = 0.2
    _next: float = 0.0

    def reset(self) -> None:
        self._next = self.first

    def delay(self) -> float:
        if self._next <= 0:
            self._next = self.first
        base = self._next
        self._next = min(self._next * 2, self.cap)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)
