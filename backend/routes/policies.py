"""Policy versions over HTTP: anyone with a supervisor token reads them; admins push and
activate (the same checks and audit events as `hitl policy push|activate`)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from starlette.concurrency import run_in_threadpool

from backend.deps import CurrentAdmin, CurrentViewer, StateDep
from backend.services import policy_admin as svc
from store.contracts import PolicyPush, PolicyPushResult, PolicyVersionPublic, Problem

router = APIRouter(prefix="/v1/policies", tags=["policies"])


@router.get("", response_model=list[PolicyVersionPublic])
async def versions(
    supervisor: CurrentViewer, state: StateDep, policy_id: str | None = None
) -> list[PolicyVersionPublic]:
    """Every stored version (of one policy with ``policy_id``), which are active."""
    return await run_in_threadpool(svc.list_versions, state, policy_id=policy_id)


@router.get(
    "/{policy_id}/versions/{version}",
    response_model=PolicyVersionPublic,
    responses={404: {"model": Problem}},
)
async def version(
    policy_id: str, version: int, supervisor: CurrentViewer, state: StateDep
) -> PolicyVersionPublic:
    """One stored version with its TOML verbatim."""
    return await run_in_threadpool(svc.show_version, state, policy_id=policy_id, version=version)


@router.post(
    "",
    response_model=PolicyPushResult,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": PolicyPushResult, "description": "The same content was stored before"},
        409: {"model": Problem},
        422: {"model": Problem},
    },
)
async def push(
    body: PolicyPush, admin: CurrentAdmin, state: StateDep, response: Response
) -> PolicyPushResult:
    """Check a policy file, store it as the next version and activate it (admins).
    Problems come back as a 422 listing each ``line`` and ``message``."""
    result = await run_in_threadpool(
        svc.push, state, admin=admin, source=body.source, filename=body.filename
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result


@router.post(
    "/{policy_id}/versions/{version}/activate",
    response_model=PolicyPushResult,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
)
async def activate(
    policy_id: str, version: int, admin: CurrentAdmin, state: StateDep
) -> PolicyPushResult:
    """Make a stored version the active one again: a rollback (admins)."""
    return await run_in_threadpool(
        svc.activate, state, admin=admin, policy_id=policy_id, version=version
    )
