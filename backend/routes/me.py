from __future__ import annotations

from fastapi import APIRouter, Response, status
from starlette.concurrency import run_in_threadpool

from backend.deps import CurrentSupervisor, CurrentViewer, StateDep
from backend.services import groups as groups_svc
from backend.services import keys as svc
from store.contracts import AvailabilityUpdate, KeyEnroll, KeyPublic, Problem, SupervisorMe

router = APIRouter(prefix="/v1/me", tags=["supervisors"])


@router.get("", response_model=SupervisorMe)
async def me(supervisor: CurrentViewer, state: StateDep) -> SupervisorMe:
    return await run_in_threadpool(svc.me, state, supervisor=supervisor)


@router.post(
    "/keys",
    response_model=KeyPublic,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": Problem}, 422: {"model": Problem}},
)
async def enroll(
    body: KeyEnroll, supervisor: CurrentSupervisor, state: StateDep, response: Response
) -> KeyPublic:
    """Enroll an Ed25519 public key; the server pins its fingerprint."""
    key, created = await run_in_threadpool(
        svc.enroll_key, state, supervisor=supervisor, public_key=body.public_key
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return key


@router.put("/availability", response_model=SupervisorMe, responses={422: {"model": Problem}})
async def set_availability(
    body: AvailabilityUpdate, supervisor: CurrentSupervisor, state: StateDep
) -> SupervisorMe:
    """Go on call or away. New cases are routed and suggested to on-call members only."""
    return await run_in_threadpool(
        groups_svc.change_availability,
        state,
        supervisor=supervisor,
        availability=body.availability,
    )
