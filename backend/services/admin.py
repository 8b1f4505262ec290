"""Creating agents and supervisors (the `hitl admin` commands); tokens are shown once.

Agents' webhooks and rate limits are set here too. A webhook secret is never stored: it
is derived from the server's webhook key (:mod:`store.webhooks`), so the commands that
show one need that key, the one ``hitl serve`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from backend.services.webhooks import check_webhook_url
from store import audit, outbox
from store.contracts import utcnow
from store.db import read_session, write_session
from store.principals import ROLES, create_agent, create_supervisor
from store.tables import Agent
from store.webhooks import derive_secret, format_secret, key_id

__all__ = [
    "ROLES",
    "WebhookChange",
    "add_agent",
    "add_supervisor",
    "list_deliveries",
    "redeliver",
    "set_rate_limit",
    "set_webhook",
]


def add_agent(
    engine: Engine,
    *,
    name: str,
    domains: list[str],
    webhook_url: str | None = None,
    webhook_key: bytes | None = None,
) -> tuple[int, str]:
    """Create an agent; with ``webhook_url`` it gets secret version 1 under ``webhook_key``
    (show it with :func:`webhook_secret`). Raises ValueError for a URL that cannot be used."""
    if webhook_url is not None:
        webhook_url = check_webhook_url(webhook_url)
        if webhook_key is None:
            raise ValueError("a webhook needs the server's webhook key to derive its secret")
    now = utcnow()
    with write_session(engine) as session:
        agent, token = create_agent(session=session, name=name, domains=domains, now=now)
        assert agent.id is not None
        data: dict[str, object] = {"agent_id": agent.id, "name": name, "domains": domains}
        if webhook_url is not None and webhook_key is not None:
            agent.webhook_url = webhook_url
            agent.webhook_secret_version = 1
            agent.webhook_key_id = key_id(webhook_key)
            session.add(agent)
            data |= {"webhook_url": webhook_url, "webhook_secret_version": 1}
        audit.append_event(session, kind="agent.created", actor="admin", ts=now, data=data)
        return agent.id, token


def webhook_secret(webhook_key: bytes, *, agent_id: int, version: int) -> str:
    """The ``whsec_…`` secret an agent verifies deliveries with."""
    return format_secret(derive_secret(webhook_key, agent_id=agent_id, version=version))


@dataclass(frozen=True)
class WebhookChange:
    agent_id: int
    name: str
    url: str | None
    secret_version: int
    #: The new secret, when this change issued one (shown once).
    secret: str | None
    #: After a rotation: the old secret also signs deliveries until then.
    previous_valid_until: datetime | None


def _agent(session: Session, name: str) -> Agent:
    agent = session.exec(select(Agent).where(Agent.name == name)).first()
    if agent is None:
        raise LookupError(f"there is no agent named {name!r}")
    return agent


def set_webhook(
    engine: Engine,
    *,
    name: str,
    webhook_key: bytes,
    url: str | None = None,
    remove: bool = False,
    rotate: bool = False,
    grace: timedelta = timedelta(days=1),
) -> WebhookChange:
    """Set, remove or re-key an agent's webhook (audited; the secret never is).

    The first URL issues secret version 1; ``rotate`` issues the next version, while the
    previous one keeps signing for ``grace``. Removing the URL keeps the secret for a later
    URL; deliveries still pending then are cancelled when they come due.
    """
    if remove and (url is not None or rotate):
        raise ValueError("--remove cannot be combined with --url or --rotate")
    if url is None and not remove and not rotate:
        raise ValueError("say what to change: --url URL, --rotate or --remove")
    if url is not None:
        url = check_webhook_url(url)
    current_key = key_id(webhook_key)
    now = utcnow()
    with write_session(engine) as session:
        agent = _agent(session, name)
        assert agent.id is not None
        issued = False
        if remove:
            agent.webhook_url = None
        else:
            if url is not None:
                agent.webhook_url = url
            if agent.webhook_url is None:
                raise ValueError(f"agent {name!r} has no webhook: give --url URL")
            if agent.webhook_secret_version == 0:
                agent.webhook_secret_version = 1
                issued = True
            elif rotate:
                agent.webhook_secret_version += 1
                agent.webhook_rotated_at = now
                issued = True
            elif agent.webhook_key_id != current_key:
                raise ValueError(
                    f"agent {name!r}'s secret was issued under another webhook key (fingerprint "
                    f"{agent.webhook_key_id}; this one is {current_key}): run this with the "
                    "server's key (HITL_WEBHOOK_KEY or --server-key), or add --rotate"
                )
            agent.webhook_key_id = current_key
        session.add(agent)
        audit.append_event(
            session,
            kind="agent.webhook_changed",
            actor="admin",
            ts=now,
            data={
                "agent_id": agent.id,
                "name": name,
                "webhook_url": agent.webhook_url,
                "webhook_secret_version": agent.webhook_secret_version,
                "rotated": rotate,
            },
        )
        version = agent.webhook_secret_version
        return WebhookChange(
            agent_id=agent.id,
            name=name,
            url=agent.webhook_url,
            secret_version=version,
            secret=webhook_secret(webhook_key, agent_id=agent.id, version=version)
            if issued
            else None,
            previous_valid_until=now + grace if rotate and version > 1 else None,
        )


def set_rate_limit(
    engine: Engine, *, name: str, rate: int | None, burst: int | None
) -> tuple[int | None, int | None]:
    """An agent's own ingest limits (per minute, per second); None: the server's."""
    for value, what in ((rate, "rate"), (burst, "burst")):
        if value is not None and value < 0:
            raise ValueError(f"{what} must be 0 (no limit) or more")
    now = utcnow()
    with write_session(engine) as session:
        agent = _agent(session, name)
        agent.ingest_rate = rate
        agent.ingest_burst = burst
        session.add(agent)
        audit.append_event(
            session,
            kind="agent.rate_limit_changed",
            actor="admin",
            ts=now,
            data={"agent_id": agent.id, "name": name, "rate": rate, "burst": burst},
        )
    return rate, burst


def list_deliveries(
    engine: Engine, *, agent: str | None, states: list[str], limit: int
) -> list[outbox.DeliveryRow]:
    for state in states:
        if state not in outbox.STATES:
            raise ValueError(f"a delivery state is one of {', '.join(outbox.STATES)}")
    with read_session(engine) as session:
        agent_id = _agent(session, agent).id if agent is not None else None
        return outbox.recent_deliveries(
            session, agent_id=agent_id, states=states or None, limit=limit
        )


def redeliver(engine: Engine, *, agent: str | None) -> int:
    """Dead deliveries (of ``agent``, or all) get a fresh set of attempts, due now."""
    now = utcnow()
    with write_session(engine) as session:
        agent_id = _agent(session, agent).id if agent is not None else None
        count = outbox.redeliver_dead(session, agent_id=agent_id, now=now)
        audit.append_event(
            session,
            kind="webhook.redelivery_requested",
            actor="admin",
            ts=now,
            data={"agent": agent, "deliveries": count},
        )
        return count


def add_supervisor(engine: Engine, *, name: str, role: str, groups: list[str]) -> tuple[int, str]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if name == "system":
        raise ValueError("the name 'system' is reserved for the backend's own decisions")
    now = utcnow()
    with write_session(engine) as session:
        sup, token = create_supervisor(
            session=session, name=name, role=role, groups=groups, now=now
        )
        assert sup.id is not None
        audit.append_event(
            session,
            kind="supervisor.created",
            actor="admin",
            ts=now,
            data={"supervisor_id": sup.id, "name": name, "role": role, "groups": groups},
        )
        return sup.id, token
