"""Dependencies as ``Annotated`` aliases: the app state and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from backend.principal_cache import PrincipalCache
from backend.problems import ProblemError
from backend.state import AppState
from backend.tracecontext import current_request
from store.db import read_session
from store.principals import agent_by_token, hash_token, supervisor_by_token
from store.tables import Agent, Supervisor

__all__ = ["CurrentAgent", "CurrentSupervisor", "PrincipalCache", "StateDep"]

_bearer = HTTPBearer(auto_error=False, description="A hitl agent or supervisor token")


async def get_state(request: Request) -> AppState:
    # async: FastAPI runs a plain ``def`` dependency in the threadpool, a thread hop per request.
    state: AppState = request.app.state.hitl
    return state


StateDep = Annotated[AppState, Depends(get_state)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="hitl"'}
    )


async def _principal(state: AppState, creds: Credentials, kind: str) -> Agent | Supervisor:
    if creds is None:
        raise _unauthorized(f"send an {kind} token as 'Authorization: Bearer <token>'")
    key = f"{kind}:{hash_token(creds.credentials)}"
    cached = state.principals.get(key)
    if cached is not None:
        return cached

    def lookup() -> Agent | Supervisor | None:
        with read_session(state.engine) as session:
            if kind == "agent":
                return agent_by_token(session=session, token=creds.credentials)
            return supervisor_by_token(session=session, token=creds.credentials)

    principal = await run_in_threadpool(lookup)
    if principal is None:
        raise _unauthorized(f"this is not a valid {kind} token")
    state.principals.put(key, principal)
    return principal


def _note(principal: str) -> None:
    """Name the principal in the request's log line."""
    ctx = current_request()
    if ctx is not None:
        ctx.principal = principal


async def current_agent(state: StateDep, creds: Credentials) -> Agent:
    principal = await _principal(state, creds, "agent")
    assert isinstance(principal, Agent)
    _note(f"agent:{principal.name}")
    return principal


async def current_supervisor(state: StateDep, creds: Credentials) -> Supervisor:
    principal = await _principal(state, creds, "supervisor")
    assert isinstance(principal, Supervisor)
    _note(f"supervisor:{principal.name}")
    if principal.role not in ("supervisor", "admin"):
        raise ProblemError(403, "Forbidden", f"role {principal.role!r} cannot do this")
    return principal


CurrentAgent = Annotated[Agent, Depends(current_agent)]
CurrentSupervisor = Annotated[Supervisor, Depends(current_supervisor)]
