"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI

from backend.metrics import Metrics
from backend.problems import install_problem_handlers
from backend.redaction_key import redaction_key
from backend.request_log import RequestLogMiddleware
from backend.routes import (
    audit,
    cases,
    changes,
    escalations,
    groups,
    health,
    me,
    metrics,
    policies,
    related,
)
from backend.serverkey import load_or_create_server_key
from backend.services.policy_triage import PolicyTriage
from backend.services.rate_limit import IngestLimiter
from backend.services.triage import Triage
from backend.settings import BackendSettings
from backend.state import AppState, Clock
from backend.sweeper import run_sweeper
from backend.webhook_dispatcher import WebhookDispatcher
from backend.webhook_key import webhook_key
from store.contracts import utcnow
from store.db import make_engine, on_commit

__all__ = ["create_app"]


def create_app(
    settings: BackendSettings | None = None,
    *,
    clock: Clock = utcnow,
    triage: Triage | None = None,
) -> FastAPI:
    """Build the app. The database must already be migrated (`hitl db upgrade`)."""
    settings = settings or BackendSettings()
    engine = make_engine(settings.database_url)
    state = AppState(
        settings=settings,
        engine=engine,
        server_key=load_or_create_server_key(settings.server_key),
        clock=clock,
        # The active policies (`hitl policy push`); BuiltinTriage where none applies.
        triage=triage or PolicyTriage(engine, refresh_seconds=settings.policy_refresh_seconds),
    )

    state.redaction_key = redaction_key(settings)
    state.metrics = Metrics(state.engine)
    # Any committed change to a case wakes this process's long-polls on it.
    on_commit(engine, state.notifier.notify_many)
    state.webhook_key = webhook_key(settings)
    state.ingest_limiter = IngestLimiter(rate=settings.ingest_rate, burst=settings.ingest_burst)
    dispatcher = WebhookDispatcher(state) if settings.webhook_dispatch else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.notifier.bind(asyncio.get_running_loop())
        # The outbox is durable: whatever this task leaves undone, the next start resumes.
        task = asyncio.create_task(dispatcher.run()) if dispatcher is not None else None
        sweeper = (
            asyncio.create_task(run_sweeper(state), name="hitl-sla-sweeper")
            if state.settings.sla_sweep_seconds > 0
            else None
        )
        try:
            yield
        finally:
            for running in (task, sweeper):
                if running is not None:
                    running.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await running
            state.engine.dispose()

    app = FastAPI(
        title="hitl",
        version=version("hitl-console"),
        summary="Human-in-the-loop escalation service",
        lifespan=lifespan,
    )
    app.state.hitl = state
    install_problem_handlers(app)
    for module in (
        health,
        escalations,
        cases,
        related,
        changes,
        me,
        groups,
        audit,
        policies,
        metrics,
    ):
        app.include_router(module.router)
    app.add_middleware(RequestLogMiddleware)
    return app
