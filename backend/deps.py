"""Dependencies as ``Annotated`` aliases: the app state and the authenticated principal.

Supervisors (people) have one of three roles, each allowed what the one before it is:

- ``viewer``: reads the queue, cases, their audit trails and the (scoped) audit export
  of their groups; cannot claim, decide or enroll a signing key;
- ``supervisor``: also claims and decides cases of their groups, enrolls keys;
- ``admin``: every group, and the admin endpoints (policies).

A route names the least role it needs (:data:`CurrentViewer`, :data:`CurrentSupervisor`,
:data:`CurrentAdmin`); a lesser role gets 403. Which *objects* a principal may see is the
services' business: a case outside a supervisor's groups is 404, never 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from backend.principal_cache import PrincipalCache
from backend.problems import ProblemError
from backend.state import AppState
from backend.tracecontext import current_request
from store.db import read_session
from store.principals import ROLES, agent_by_token, hash_token, supervisor_by_token
from store.tables import Agent, Supervisor

__all__ = [
    "ROLES",
    "CurrentAdmin",
    "CurrentAgent",
    "CurrentSupervisor",
    "CurrentViewer",
    "PrincipalCache",
    "StateDep",
]

_RANK = {role: rank for rank, role in enumerate(ROLES)}
_CANNOT = {
    "viewer": "a viewer reads the queue, cases and audit exports of their groups but cannot "
    "claim, decide or enroll keys",
    "supervisor": "policies and the other admin endpoints are for admins",
}

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
        state.metrics.denied(principal=kind, reason="missing_token")
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
        state.metrics.denied(principal=kind, reason="invalid_token")
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


_SupervisorDep = Callable[[AppState, HTTPAuthorizationCredentials | None], Awaitable[Supervisor]]


def _role_at_least(least: str) -> _SupervisorDep:
    rank = _RANK[least]

    async def dependency(state: StateDep, creds: Credentials) -> Supervisor:
        principal = await _principal(state, creds, "supervisor")
        assert isinstance(principal, Supervisor)
        _note(f"supervisor:{principal.name}")
        # An unknown role (a row written by hand) ranks below viewer: it may do nothing.
        if _RANK.get(principal.role, -1) < rank:
            state.metrics.denied(principal="supervisor", reason="role")
            why = _CANNOT.get(principal.role, f"that is not one of {', '.join(ROLES)}")
            raise ProblemError(
                403,
                "Forbidden",
                f"this needs the {least} role; you are {principal.role!r}: {why}. "
                "An admin can give you another role (`hitl admin create-supervisor --role`).",
                role=principal.role,
                required_role=least,
            )
        return principal

    dependency.__name__ = f"current_{least}"
    return dependency


current_viewer = _role_at_least("viewer")
current_supervisor = _role_at_least("supervisor")
current_admin = _role_at_least("admin")

#: Any supervisor-side principal: viewer, supervisor or admin.
CurrentViewer = Annotated[Supervisor, Depends(current_viewer)]
#: A supervisor or an admin: may claim, decide and enroll keys.
CurrentSupervisor = Annotated[Supervisor, Depends(current_supervisor)]
#: An admin only.
CurrentAdmin = Annotated[Supervisor, Depends(current_admin)]
CurrentAgent = Annotated[Agent, Depends(current_agent)]
