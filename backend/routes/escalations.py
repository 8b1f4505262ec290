from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from backend.deps import CurrentAgent, StateDep
from backend.services import escalations as svc
from store.contracts import EscalationCreate, EscalationStatus, Problem

router = APIRouter(prefix="/v1/escalations", tags=["agents"])


@router.post(
    "",
    response_model=EscalationStatus,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": EscalationStatus, "description": "Replay of an idempotency key"},
        409: {"model": Problem},
        422: {"model": Problem},
    },
)
async def submit(
    body: EscalationCreate, agent: CurrentAgent, state: StateDep, response: Response
) -> EscalationStatus:
    """Submit an escalation. The same idempotency key with the same body returns the same case."""
    result, created = await run_in_threadpool(
        svc.submit_escalation, state, agent=agent, escalation=body
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return result


@router.get("/{case_id}", response_model=EscalationStatus, responses={404: {"model": Problem}})
async def get_status(
    case_id: int,
    agent: CurrentAgent,
    state: StateDep,
    wait: Annotated[float, Query(ge=0, description="Long-poll up to this many seconds")] = 0,
) -> EscalationStatus:
    """The agent's view of its escalation; with ``wait``, returns as soon as it is decided."""
    if wait <= 0:
        return await run_in_threadpool(svc.escalation_status, state, agent=agent, case_id=case_id)
    return await svc.wait_for_decision(state, agent=agent, case_id=case_id, wait=wait)
