"""The webhook outbox: deliveries derived from the audit log, claimed under leases.

Nothing an agent must hear about is written twice: a change and its audit event commit in
one transaction, and the outbox is filled *from the audit log*, following a persisted
cursor (``webhook_cursor``). Appenders serialize on the audit head, so events become
visible in ``seq`` order and a cursor at N has missed nothing below it. Turning events
into ``webhook_deliveries`` rows and moving the cursor happen in one transaction; the rows
are unique on (event, agent), so a repeated scan adds nothing. A crash at any point
loses nothing: the cursor has not moved, or the rows exist.

Deliveries are claimed with conditional UPDATEs (``WHERE`` the row is still due and
unclaimed; the rowcount says who won), so processes sharing a database never attempt the
same row at once. A claim counts the attempt and pushes ``next_attempt_at`` to the end of
a lease: a process that dies mid-attempt leaves a row that becomes due again when the
lease ends. An outcome is recorded only by the attempt that still holds the row (same
owner, same attempt number).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from store.tables import Agent, AuditEvent, AuditHead, Case, WebhookCursor, WebhookDelivery

__all__ = [
    "STATES",
    "AgentEvent",
    "ClaimedDelivery",
    "DeliveryRow",
    "add_delivery",
    "agent_events",
    "claim_due",
    "cursor_and_head",
    "lock_cursor",
    "message_id",
    "move_cursor",
    "outbox_counts",
    "recent_deliveries",
    "record_outcome",
    "redeliver_dead",
]

#: A delivery's states; ``pending`` rows are the only ones ever claimed.
STATES = ("pending", "delivered", "dead", "cancelled")

_deliveries: Table = WebhookDelivery.__table__  # type: ignore[attr-defined]
_cursor: Table = WebhookCursor.__table__  # type: ignore[attr-defined]
_head: Table = AuditHead.__table__  # type: ignore[attr-defined]
_events: Table = AuditEvent.__table__  # type: ignore[attr-defined]
_cases: Table = Case.__table__  # type: ignore[attr-defined]
_agents: Table = Agent.__table__  # type: ignore[attr-defined]


def message_id(event_seq: int, agent_id: int) -> str:
    """The ``webhook-id`` of an event's delivery to an agent: stable across retries."""
    return f"hitl_evt_{event_seq}_agent_{agent_id}"


@dataclass(frozen=True)
class AgentEvent:
    """An audit event about a case whose agent has a webhook."""

    seq: int
    kind: str
    ts: datetime
    case_id: int
    agent_id: int


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this process now holds, with what it needs to send it."""

    id: int
    attempt: int
    message_id: str
    payload: bytes
    agent_id: int
    agent_name: str
    url: str | None
    secret_version: int
    key_id: str | None
    rotated_at: datetime | None


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as ``hitl admin webhooks`` lists it."""

    id: int
    agent: str
    case_id: int
    kind: str
    message_id: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def cursor_and_head(conn: Connection | Session) -> tuple[int, int]:
    """(the outbox cursor, the audit head): equal when there is nothing new to scan."""
    row = conn.execute(
        select(
            select(_cursor.c.seq).where(_cursor.c.id == 1).scalar_subquery(),
            select(_head.c.seq).where(_head.c.id == 1).scalar_subquery(),
        )
    ).one()
    return int(row[0]), int(row[1])


def lock_cursor(session: Session) -> tuple[int, int]:
    """Lock the cursor row for this transaction (scanners serialize on it) and return
    (cursor, head). The head is read after the lock: every event up to it has committed."""
    cursor = session.execute(
        select(_cursor.c.seq).where(_cursor.c.id == 1).with_for_update()
    ).scalar_one()
    head = session.execute(select(_head.c.seq).where(_head.c.id == 1)).scalar_one()
    return int(cursor), int(head)


def agent_events(
    session: Session, *, after: int, upto: int, kinds: Iterable[str]
) -> list[AgentEvent]:
    """Events with ``after < seq <= upto`` of ``kinds`` about cases whose agent has a webhook
    URL, in seq order (a primary-key range of the audit log, joined by primary keys)."""
    query = (
        select(_events.c.seq, _events.c.kind, _events.c.ts, _events.c.case_id, _cases.c.agent_id)
        .join(_cases, _cases.c.id == _events.c.case_id)
        .join(_agents, _agents.c.id == _cases.c.agent_id)
        .where(
            _events.c.seq > after,
            _events.c.seq <= upto,
            _events.c.kind.in_(list(kinds)),
            _agents.c.webhook_url.is_not(None),
        )
        .order_by(_events.c.seq)
    )
    return [AgentEvent(*row) for row in session.execute(query)]


def move_cursor(session: Session, seq: int) -> None:
    session.execute(update(_cursor).where(_cursor.c.id == 1).values(seq=seq))


def add_delivery(session: Session, *, event: AgentEvent, payload: bytes, now: datetime) -> bool:
    """Queue ``event`` for its agent, due now. False if it was queued already."""
    values: dict[str, Any] = {
        "event_seq": event.seq,
        "agent_id": event.agent_id,
        "case_id": event.case_id,
        "kind": event.kind,
        "message_id": message_id(event.seq, event.agent_id),
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_deliveries).values(values).on_conflict_do_nothing()
    result = session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_due(
    session: Session, *, now: datetime, owner: str, lease_until: datetime, limit: int
) -> list[ClaimedDelivery]:
    """Claim up to ``limit`` due deliveries for ``owner`` until ``lease_until``.

    Each claim is ``UPDATE … WHERE id = ? AND state = 'pending' AND next_attempt_at <= now``:
    of two processes racing for a row, one updates it and the other sees rowcount 0.
    """
    due = session.execute(
        select(_deliveries.c.id, _deliveries.c.attempts)
        .where(_deliveries.c.state == "pending", _deliveries.c.next_attempt_at <= now)
        .order_by(_deliveries.c.next_attempt_at, _deliveries.c.id)
        .limit(limit)
    ).all()
    won: list[tuple[int, int]] = []
    for ident, attempts in due:
        result = session.execute(
            update(_deliveries)
            .where(
                _deliveries.c.id == ident,
                _deliveries.c.state == "pending",
                _deliveries.c.attempts == attempts,
                _deliveries.c.next_attempt_at <= now,
            )
            .values(
                attempts=attempts + 1,
                lease_owner=owner,
                next_attempt_at=lease_until,
                updated_at=now,
            )
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            won.append((ident, attempts + 1))
    if not won:
        return []
    attempt_of = dict(won)
    rows = session.execute(
        select(
            _deliveries.c.id,
            _deliveries.c.message_id,
            _deliveries.c.payload,
            _agents.c.id,
            _agents.c.name,
            _agents.c.webhook_url,
            _agents.c.webhook_secret_version,
            _agents.c.webhook_key_id,
            _agents.c.webhook_rotated_at,
        )
        .join(_agents, _agents.c.id == _deliveries.c.agent_id)
        .where(_deliveries.c.id.in_(list(attempt_of)))
        .order_by(_deliveries.c.id)
    ).all()
    return [
        ClaimedDelivery(
            id=row[0],
            attempt=attempt_of[row[0]],
            message_id=row[1],
            payload=bytes(row[2]),
            agent_id=row[3],
            agent_name=row[4],
            url=row[5],
            secret_version=row[6],
            key_id=row[7],
            rotated_at=row[8],
        )
        for row in rows
    ]


def record_outcome(
    session: Session,
    *,
    delivery_id: int,
    attempt: int,
    owner: str,
    now: datetime,
    state: str,
    status: int | None = None,
    error: str | None = None,
    retry_at: datetime | None = None,
) -> bool:
    """Record an attempt's outcome if this attempt still holds the row.

    ``state`` is ``delivered``, ``dead``, ``cancelled``, or ``pending`` with ``retry_at``.
    Returns False when the lease had lapsed and another attempt took the row over.
    """
    if state not in STATES:
        raise ValueError(f"unknown delivery state {state!r}")
    values: dict[str, Any] = {
        "state": state,
        "last_status": status,
        "last_error": error[:500] if error else None,
        "lease_owner": None,
        "updated_at": now,
    }
    if state == "pending":
        if retry_at is None:
            raise ValueError("a pending delivery needs retry_at")
        values["next_attempt_at"] = retry_at
    if state == "delivered":
        values["delivered_at"] = now
    result = session.execute(
        update(_deliveries)
        .where(
            _deliveries.c.id == delivery_id,
            _deliveries.c.state == "pending",
            _deliveries.c.attempts == attempt,
            _deliveries.c.lease_owner == owner,
        )
        .values(**values)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def outbox_counts(conn: Connection | Session) -> dict[str, int]:
    """Deliveries waiting (``pending``) and given up (``dead``)."""
    counts = dict.fromkeys(("pending", "dead"), 0)
    rows = conn.execute(
        select(_deliveries.c.state, func.count())
        .where(_deliveries.c.state.in_(list(counts)))
        .group_by(_deliveries.c.state)
    )
    for state, count in rows:
        counts[str(state)] = int(count)
    return counts


def recent_deliveries(
    session: Session,
    *,
    agent_id: int | None = None,
    states: Sequence[str] | None = None,
    limit: int = 50,
) -> list[DeliveryRow]:
    """The latest deliveries, newest first."""
    query = (
        select(
            _deliveries.c.id,
            _agents.c.name,
            _deliveries.c.case_id,
            _deliveries.c.kind,
            _deliveries.c.message_id,
            _deliveries.c.state,
            _deliveries.c.attempts,
            _deliveries.c.next_attempt_at,
            _deliveries.c.last_status,
            _deliveries.c.last_error,
            _deliveries.c.created_at,
            _deliveries.c.delivered_at,
        )
        .join(_agents, _agents.c.id == _deliveries.c.agent_id)
        .order_by(_deliveries.c.id.desc())
        .limit(limit)
    )
    if agent_id is not None:
        query = query.where(_deliveries.c.agent_id == agent_id)
    if states:
        query = query.where(_deliveries.c.state.in_(list(states)))
    return [DeliveryRow(*row) for row in session.execute(query)]


def redeliver_dead(session: Session, *, agent_id: int | None, now: datetime) -> int:
    """Give dead deliveries a fresh set of attempts, due now. Returns how many."""
    condition = _deliveries.c.state == "dead"
    if agent_id is not None:
        condition = and_(condition, _deliveries.c.agent_id == agent_id)
    result = session.execute(
        update(_deliveries)
        .where(condition)
        .values(state="pending", attempts=0, next_attempt_at=now, updated_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
