"""The webhook dispatcher: a task in the backend's lifespan that empties the outbox.

Each pass: turn new audit events into deliveries (:func:`enqueue_new_events`), claim the
due ones under a lease (:func:`store.outbox.claim_due`), POST them concurrently with
httpx (timeouts always on, redirects not followed), and record each outcome. Between
passes it sleeps ``HITL_WEBHOOK_POLL_SECONDS``, or until a change to a case commits in
this process; a pass that found work is followed at once by another.

Every backend process runs one (``HITL_WEBHOOK_DISPATCH=false`` turns it off); leases keep
them from sending the same delivery at once. Delivery is at least once: a process killed
after the receiver answered 2xx but before the outcome committed leaves the row to be
sent again when its lease ends. The ``webhook-id`` is the same on every attempt, so a
receiver drops duplicates by it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib.metadata import version

import httpx
from starlette.concurrency import run_in_threadpool

from backend.services.webhooks import (
    RetryPolicy,
    enqueue_new_events,
    retry_after_seconds,
    signing_secrets,
)
from backend.state import AppState
from store import outbox
from store.contracts import utcnow
from store.db import write_session
from store.webhooks import key_id, signature_header

__all__ = ["WebhookDispatcher"]

log = logging.getLogger("hitl.webhooks")

#: Deliveries claimed (and sent concurrently) per pass.
CLAIM_BATCH = 16


class WebhookDispatcher:
    """Delivers the outbox of one database from this process.

    ``clock`` stamps the outbox rows and schedules retries (real time by default, not the
    app's business clock); ``wall`` gives the ``webhook-timestamp`` header, which receivers
    check against their own clock. ``transport`` lets tests route requests.
    """

    def __init__(
        self,
        state: AppState,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        wall: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        settings = state.settings
        self.state = state
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.clock = clock
        self.wall = wall
        self.policy = policy or RetryPolicy(
            base=settings.webhook_backoff_seconds,
            cap=settings.webhook_backoff_max_seconds,
            max_attempts=settings.webhook_max_attempts,
        )
        self.timeout = settings.webhook_timeout_seconds
        # A claim outlives the request it covers; a process that died mid-attempt frees
        # the row when the lease ends.
        self.lease = timedelta(seconds=2 * self.timeout + 10)
        self.grace = timedelta(seconds=settings.webhook_rotation_grace_seconds)
        self.key_id = key_id(state.webhook_key)
        self._transport = transport

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            transport=self._transport,
            headers={"User-Agent": f"hitl-webhooks/{version('hitl-console')}"},
        )

    async def run(self) -> None:
        """Pass after pass until cancelled. A failing pass is logged and retried later."""
        poll = self.state.settings.webhook_poll_seconds
        async with self.client() as client:
            while True:
                try:
                    busy = await self.run_once(client)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook pass failed; trying again in %.1f s", poll)
                    busy = False
                if not busy:
                    # A change to a case committed in this process (a decision, a fallback)
                    # starts the next pass at once; other processes' within ``poll``.
                    await self.state.notifier.wait_any(poll)

    async def run_once(self, client: httpx.AsyncClient) -> bool:
        """One pass. Returns True if there may be more to do at once."""
        more_events = await run_in_threadpool(
            enqueue_new_events, self.state.engine, now=self.clock()
        )
        claimed = await run_in_threadpool(self._claim)
        if claimed:
            await asyncio.gather(*(self._deliver(client, d) for d in claimed))
        return more_events or len(claimed) == CLAIM_BATCH

    def _claim(self) -> list[outbox.ClaimedDelivery]:
        now = self.clock()
        with write_session(self.state.engine) as session:
            return outbox.claim_due(
                session,
                now=now,
                owner=self.owner,
                lease_until=now + self.lease,
                limit=CLAIM_BATCH,
            )

    async def _deliver(self, client: httpx.AsyncClient, d: outbox.ClaimedDelivery) -> None:
        metrics = self.state.metrics
        if d.attempt > 1:
            metrics.webhook_retries.inc()
        if d.url is None:
            await self._record(d, "cancelled", error="the agent's webhook URL was removed")
            return
        if d.key_id != self.key_id:
            await self._failed(
                d,
                error=f"agent {d.agent_name!r}'s webhook secret was issued under webhook key "
                f"{d.key_id}, but this backend has key {self.key_id}: give `hitl serve` and "
                "`hitl admin` the same HITL_WEBHOOK_KEY (or server key directory), or rotate "
                "the secret with `hitl admin set-webhook --rotate`",
            )
            return
        timestamp = int(self.wall())
        secrets_ = signing_secrets(
            self.state.webhook_key,
            agent_id=d.agent_id,
            version=d.secret_version,
            rotated_at=d.rotated_at,
            now=self.clock(),
            grace=self.grace,
        )
        headers = {
            "Content-Type": "application/json",
            "webhook-id": d.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                secrets_, msg_id=d.message_id, timestamp=timestamp, body=d.payload
            ),
        }
        try:
            response = await client.post(d.url, content=d.payload, headers=headers)
        except httpx.TimeoutException:
            await self._failed(d, error=f"no answer within {self.timeout:g} s")
            return
        except httpx.HTTPError as exc:
            await self._failed(d, error=f"{type(exc).__name__}: {exc}"[:500])
            return
        status = response.status_code
        if 200 <= status < 300:
            await self._record(d, "delivered", status=status)
        elif status == 410:
            await self._record(
                d, "dead", status=status, error="the receiver answered 410 Gone: not retried"
            )
        else:
            retry_after = (
                retry_after_seconds(response.headers.get("Retry-After"), now=self.clock())
                if status in (429, 503)
                else None
            )
            await self._failed(d, status=status, error=f"HTTP {status}", retry_after=retry_after)

    async def _failed(
        self,
        d: outbox.ClaimedDelivery,
        *,
        error: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        if d.attempt >= self.policy.max_attempts:
            await self._record(
                d,
                "dead",
                status=status,
                error=f"{error} (gave up after {d.attempt} attempts)",
            )
            return
        delay = self.policy.delay(d.attempt, retry_after)
        await self._record(d, "pending", status=status, error=error, delay=delay)

    async def _record(
        self,
        d: outbox.ClaimedDelivery,
        state: str,
        *,
        status: int | None = None,
        error: str | None = None,
        delay: float | None = None,
    ) -> None:
        def write() -> bool:
            now = self.clock()
            with write_session(self.state.engine) as session:
                return outbox.record_outcome(
                    session,
                    delivery_id=d.id,
                    attempt=d.attempt,
                    owner=self.owner,
                    now=now,
                    state=state,
                    status=status,
                    error=error,
                    retry_at=now + timedelta(seconds=delay) if delay is not None else None,
                )

        if not await run_in_threadpool(write):
            log.warning(
                "webhook %s: attempt %d outlived its lease; its outcome was not recorded",
                d.message_id,
                d.attempt,
                extra={"event": "webhook.lease_lost", "delivery_id": d.id},
            )
            return
        result = "failed" if state == "pending" else state
        self.state.metrics.webhook_delivered(result)
        extra = {
            "event": f"webhook.{result}",
            "delivery_id": d.id,
            "webhook_id": d.message_id,
            "agent": d.agent_name,
            "attempt": d.attempt,
            "status": status,
        }
        if state == "delivered":
            log.info("webhook %s delivered to %s", d.message_id, d.agent_name, extra=extra)
        elif state == "pending":
            log.warning(
                "webhook %s to %s failed (%s); retry in %.1f s",
                d.message_id,
                d.agent_name,
                error,
                delay or 0.0,
                extra=extra,
            )
        else:
            log.error(
                "webhook %s to %s %s: %s", d.message_id, d.agent_name, state, error, extra=extra
            )
