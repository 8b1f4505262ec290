"""Persistence for agents, supervisors and their keys. Tokens are stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlmodel import Session, select

from store.tables import Agent, Supervisor, SupervisorKey

#: Supervisor roles, least privileged first (backend/deps.py says what each may do).
ROLES = ("viewer", "supervisor", "admin")

__all__ = [
    "ROLES",
    "agent_by_token",
    "create_agent",
    "create_supervisor",
    "hash_token",
    "new_token",
    "supervisor_by_token",
    "supervisor_keys",
]


def new_token(kind: str) -> str:
    """A high-entropy bearer token (256 bits), prefixed so leaks are easy to spot and scan for."""
    return f"hitl_{kind}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    # Tokens carry 256 bits of entropy, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_agent(
    *, session: Session, name: str, domains: list[str], now: datetime
) -> tuple[Agent, str]:
    token = new_token("agent")
    agent = Agent(name=name, token_hash=hash_token(token), domains=domains, created_at=now)
    session.add(agent)
    session.flush()
    return agent, token


def create_supervisor(
    *, session: Session, name: str, role: str, groups: list[str], now: datetime
) -> tuple[Supervisor, str]:
    token = new_token("sup")
    supervisor = Supervisor(
        name=name, role=role, groups=groups, token_hash=hash_token(token), created_at=now
    )
    session.add(supervisor)
    session.flush()
    return supervisor, token


def agent_by_token(*, session: Session, token: str) -> Agent | None:
    return session.exec(select(Agent).where(Agent.token_hash == hash_token(token))).first()


def supervisor_by_token(*, session: Session, token: str) -> Supervisor | None:
    return session.exec(
        select(Supervisor).where(Supervisor.token_hash == hash_token(token))
    ).first()


def supervisor_keys(*, session: Session, supervisor_id: int) -> list[SupervisorKey]:
    return list(
        session.exec(
            select(SupervisorKey)
            .where(SupervisorKey.supervisor_id == supervisor_id)
            .where(SupervisorKey.revoked_at == None)  # noqa: E711
            .order_by(SupervisorKey.created_at)  # type: ignore[arg-type]
        )
    )
