"""Wake long-polling agents when their case is decided (in this process).

Decisions are written from worker threads, so :meth:`DecisionNotifier.notify` hands the
wake-up to the event loop. Other processes' decisions are seen by the poller's periodic
re-check of the database.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

__all__ = ["DecisionNotifier"]


class DecisionNotifier:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: defaultdict[int, set[asyncio.Event]] = defaultdict(set)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    async def wait(self, case_id: int, seconds: float) -> bool:
        """Wait up to ``seconds`` for a notification about ``case_id``."""
        event = asyncio.Event()
        self._waiters[case_id].add(event)
        try:
            await asyncio.wait_for(event.wait(), seconds)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(case_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[case_id]

    def notify(self, case_id: int) -> None:
        """Thread-safe."""
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._wake, case_id)

    def _wake(self, case_id: int) -> None:
        for event in self._waiters.get(case_id, ()):
            event.set()
