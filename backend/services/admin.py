"""Creating agents and supervisors (the `hitl admin` commands); tokens are shown once."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from store import audit
from store.contracts import utcnow
from store.db import write_session
from store.principals import create_agent, create_supervisor

__all__ = ["ROLES", "add_agent", "add_supervisor"]

ROLES = ("viewer", "supervisor", "admin")


def add_agent(engine: Engine, *, name: str, domains: list[str]) -> tuple[int, str]:
    now = utcnow()
    with write_session(engine) as session:
        agent, token = create_agent(session=session, name=name, domains=domains, now=now)
        assert agent.id is not None
        audit.append_event(
            session,
            kind="agent.created",
            actor="admin",
            ts=now,
            data={"agent_id": agent.id, "name": name, "domains": domains},
        )
        return agent.id, token


def add_supervisor(engine: Engine, *, name: str, role: str, groups: list[str]) -> tuple[int, str]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
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
