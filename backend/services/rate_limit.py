"""Per-agent ingest rate limits: ``HITL_INGEST_RATE`` a minute and ``HITL_INGEST_BURST`` a
second, both over moving windows, or an agent's own (``hitl admin set-rate-limit``).

Counting is the ``limits`` library's moving-window strategy in memory: exact (at most N
in *any* window, no doubling at a fixed window's edge) and its window statistics give the
``Retry-After``. Counters live in each process: with ``hitl serve --workers N`` an agent
may get up to N times the limit. Every ``POST /v1/escalations`` counts, replays too.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from backend.problems import ProblemError
from store.tables import Agent

__all__ = ["IngestLimiter"]

_NAMESPACE = "ingest"


class IngestLimiter:
    """Call :meth:`check` from the event loop before an escalation is ingested."""

    def __init__(self, *, rate: int, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._storage: MemoryStorage | None = None
        self._limiter: MovingWindowRateLimiter | None = None
        self._items: dict[tuple[int, int], tuple[RateLimitItem, ...]] = {}

    def limits_of(self, agent: Agent) -> tuple[int, int]:
        """(per minute, per second) for ``agent``; 0 means no limit."""
        rate = agent.ingest_rate if agent.ingest_rate is not None else self.rate
        burst = agent.ingest_burst if agent.ingest_burst is not None else self.burst
        return rate, burst

    def _windows(self, rate: int, burst: int) -> tuple[RateLimitItem, ...]:
        items = self._items.get((rate, burst))
        if items is None:
            items = tuple(
                item
                for item in (
                    RateLimitItemPerSecond(burst, namespace=_NAMESPACE) if burst else None,
                    RateLimitItemPerMinute(rate, namespace=_NAMESPACE) if rate else None,
                )
                if item is not None
            )
            self._items[(rate, burst)] = items
        return items

    def check(self, agent: Agent) -> None:
        """Count one escalation for ``agent``, or raise 429 with ``Retry-After``."""
        rate, burst = self.limits_of(agent)
        windows = self._windows(rate, burst)
        if not windows:
            return
        if self._limiter is None:  # the storage starts a timer thread: only when used
            self._storage = MemoryStorage()
            self._limiter = MovingWindowRateLimiter(self._storage)
        key = str(agent.id)
        # The second's window first: a request it refuses takes no minute slot. (One the
        # minute's window refuses has used a second's slot: hammering while refused keeps
        # an agent refused a little longer, nothing more.)
        for window in windows:
            if not self._limiter.hit(window, key):
                break
        else:
            return
        wait = self._limiter.get_window_stats(window, key).reset_time - time.time()
        retry_after = max(1, math.ceil(wait))
        allowed = " and ".join(
            f"{n} a {unit}" for n, unit in ((rate, "minute"), (burst, "second")) if n
        )
        raise ProblemError(
            429,
            "Too many escalations",
            f"agent {agent.name!r} may submit {allowed}; wait {retry_after} s "
            "(the Retry-After header) and send it again with the same idempotency key",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
