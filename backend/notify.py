"""Wake long-polls when a case changes (in this process).

Every committed write that audits a case calls :meth:`CaseNotifier.notify` (through
``store.db.on_commit``, wired in ``backend.app``): agents waiting on their case and
supervisors following the queue's change feed wake at once. Writes are made from worker
threads, so the wake-up is handed to the event loop. Other processes' changes are seen by
the pollers' periodic re-check of the database.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

__all__ = ["CaseNotifier"]


class CaseNotifier:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: defaultdict[int, set[asyncio.Event]] = defaultdict(set)
        self._any: set[asyncio.Event] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    async def wait(self, case_id: int, seconds: float) -> bool:
        """Wait up to ``seconds`` for a change to ``case_id``."""
        event = asyncio.Event()
        self._waiters[case_id].add(event)
        try:
            return await _wait(event, seconds)
        finally:
            waiters = self._waiters.get(case_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[case_id]

    async def wait_any(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a change to any case."""
        event = asyncio.Event()
        self._any.add(event)
        try:
            return await _wait(event, seconds)
        finally:
            self._any.discard(event)

    def notify(self, case_id: int) -> None:
        """Thread-safe."""
        self.notify_many((case_id,))

    def notify_many(self, case_ids: Iterable[int]) -> None:
        """Thread-safe."""
        if self._loop is None or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._wake, tuple(case_ids))

    def _wake(self, case_ids: tuple[int, ...]) -> None:
        for case_id in case_ids:
            for event in self._waiters.get(case_id, ()):
                event.set()
        for event in self._any:
            event.set()


async def _wait(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), seconds)
        return True
    except TimeoutError:
        return False
