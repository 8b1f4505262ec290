"""The SLA sweeper: a task in the app's lifespan that applies overdue cases' fallbacks.

Every ``HITL_SLA_SWEEP_SECONDS`` it runs :func:`backend.services.fallbacks.sweep_once`
in a worker thread; a full batch means a backlog, so it goes again at once. Every backend
process may run one: each case's fallback still fires exactly once (see
:mod:`backend.services.fallbacks`).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from backend.services.fallbacks import sweep_once
from backend.state import AppState

__all__ = ["run_sweeper"]

log = logging.getLogger(__name__)


async def run_sweeper(state: AppState) -> None:
    """Sweep until cancelled."""
    interval = state.settings.sla_sweep_seconds
    batch = state.settings.sla_sweep_batch
    while True:
        try:
            fired = await run_in_threadpool(sweep_once, state, limit=batch)
        except Exception:
            log.exception("the SLA sweep failed; retrying in %s s", interval)
            fired = []
        # A full batch means a backlog: go again at once (after letting others run).
        await asyncio.sleep(0 if len(fired) >= batch else interval)
