"""Webhook rules: which URLs, which secrets, what is sent, and when to try again.

The outbox itself (cursor, rows, leases) is :mod:`store.outbox`; the signature scheme is
:mod:`store.webhooks`; the loop that runs all this is :mod:`backend.webhook_dispatcher`.

- What is sent: for each audit event in :data:`EVENT_KINDS` about a case of an agent with
  a webhook, a :class:`store.contracts.WebhookEvent`: the kind, the event's seq and time,
  and the escalation as ``GET /v1/escalations/{id}`` shows it (cases are redacted at
  ingest, so nothing here carries personal data).
- When: a failed attempt is retried after ``base · 2^(n-1)`` seconds (n = attempts so
  far), capped at ``max`` and shortened by up to 20 % at random so that retries of many
  deliveries spread out; a receiver's ``Retry-After`` (429/503) is honoured up to the
  cap. After ``max_attempts`` the delivery is ``dead``; ``410 Gone`` makes it dead at once.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from backend.services.escalations import agent_view
from store import outbox
from store.canonical import canonical_json
from store.contracts import WEBHOOK_EVENT_TYPES, WebhookEvent
from store.db import read_session, write_session
from store.tables import Case
from store.webhooks import derive_secret

__all__ = [
    "EVENT_KINDS",
    "MAX_URL_LENGTH",
    "RetryPolicy",
    "check_webhook_url",
    "enqueue_new_events",
    "retry_after_seconds",
    "signing_secrets",
]

#: The audit event kinds agents hear about (one place: the contract's Literal).
EVENT_KINDS: tuple[str, ...] = WEBHOOK_EVENT_TYPES
MAX_URL_LENGTH = 2000
#: Audit events examined per scan transaction.
SCAN_BATCH = 1000


def check_webhook_url(url: str) -> str:
    """The URL, if a webhook may be sent to it; otherwise ValueError saying what to fix."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        shown = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(
            f"a webhook URL must start with https:// (or http://), not {shown}: {url!r}"
        )
    if not parts.hostname:
        raise ValueError(f"the webhook URL {url!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "put no credentials in a webhook URL (they would be stored in the database); "
            "deliveries are signed, verify the signature instead"
        )
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"a webhook URL may be at most {MAX_URL_LENGTH} characters")
    try:
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise ValueError(f"the webhook URL {url!r} has an invalid port") from exc
    return url


def signing_secrets(
    webhook_key: bytes,
    *,
    agent_id: int,
    version: int,
    rotated_at: datetime | None,
    now: datetime,
    grace: timedelta,
) -> list[bytes]:
    """The secrets a delivery is signed with: the current one, and for ``grace`` after a
    rotation the previous one too (Standard Webhooks' zero-downtime rotation)."""
    secrets = [derive_secret(webhook_key, agent_id=agent_id, version=version)]
    if version > 1 and rotated_at is not None and now - rotated_at < grace:
        secrets.append(derive_secret(webhook_key, agent_id=agent_id, version=version - 1))
    return secrets


@dataclass(frozen=True)
class RetryPolicy:
    base: float
    cap: float
    max_attempts: int
    jitter: float = 0.2
    rng: Callable[[], float] = random.random

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``attempts`` failed attempts."""
        nominal: float = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        delay = nominal * (1 - self.jitter * self.rng())
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return delay

    def schedule(self) -> list[float]:
        """The nominal delays (no jitter) between the attempts, for documentation."""
        return [min(self.cap, self.base * 2.0 ** (n - 1)) for n in range(1, self.max_attempts)]


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """A ``Retry-After`` header (delay-seconds or an HTTP date) as seconds from ``now``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def enqueue_new_events(engine: Engine, *, now: datetime, batch: int = SCAN_BATCH) -> bool:
    """Turn the audit events after the cursor into deliveries (at most ``batch`` events).

    Returns True if events remain to scan. A read first: with nothing new, no write
    transaction is opened (on SQLite it would take the database's write lock).
    """
    with read_session(engine) as session:
        cursor, head = outbox.cursor_and_head(session)
    if cursor >= head:
        return False
    with write_session(engine) as session:
        cursor, head = outbox.lock_cursor(session)
        upto = min(head, cursor + batch)
        for event in outbox.agent_events(session, after=cursor, upto=upto, kinds=EVENT_KINDS):
            case = session.get(Case, event.case_id)
            assert case is not None
            body = WebhookEvent.model_validate(
                {
                    "type": event.kind,
                    "timestamp": event.ts,
                    "seq": event.seq,
                    "data": agent_view(session, case),
                }
            )
            payload = canonical_json(body.model_dump(mode="json"))
            outbox.add_delivery(session, event=event, payload=payload, now=now)
        outbox.move_cursor(session, upto)
    return upto < head
