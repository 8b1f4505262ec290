from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from starlette.concurrency import run_in_threadpool

from backend import events
from backend.deps import CurrentAgent, StateDep
from backend.services import escalations as svc
from backend.tracecontext import current_request
from store.contracts import EscalationCreate, EscalationStatus, InfoAnswer, Problem

router = APIRouter(prefix="/v1/escalations", tags=["agents"])


@router.post(
    "",
    response_model=EscalationStatus,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": EscalationStatus, "description": "Replay of an idempotency key"},
        409: {"model": Problem},
        422: {"model": Problem},
        429: {"model": Problem, "description": "Over the agent's rate; see Retry-After"},
    },
)
async def submit(
    body: EscalationCreate, agent: CurrentAgent, state: StateDep, response: Response
) -> EscalationStatus:
    """Submit an escalation. The same idempotency key with the same body returns the same case.

    Personal data (e-mails, phone numbers, cards, IBANs, IP addresses) is replaced by
    placeholders before anything is stored. A W3C ``traceparent`` header's trace id is
    stored on the case when the body carries no ``trace_id``. An agent over its rate
    limit gets 429 with ``Retry-After``."""
    state.ingest_limiter.check(agent)
    ctx = current_request()
    result, created = await run_in_threadpool(
        svc.submit_escalation,
        state,
        agent=agent,
        escalation=body,
        trace_id=ctx.trace_id if ctx is not None and ctx.traced else None,
    )
    if ctx is not None and body.trace_id:
        ctx.adopt(body.trace_id)  # log lines and X-Trace-Id carry the agent's own trace
    if created:
        events.case_created(state, agent=agent.name, domain=body.domain, status=result)
    else:
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


@router.post(
    "/{case_id}/info",
    response_model=EscalationStatus,
    responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
)
async def answer_info(
    case_id: int, body: InfoAnswer, agent: CurrentAgent, state: StateDep
) -> EscalationStatus:
    """Answer the supervisor's question (status ``info_requested``): the case reopens with
    the answer and any context added. Personal data is redacted before it is stored."""
    return await run_in_threadpool(
        svc.answer_info, state, agent=agent, case_id=case_id, answer=body
    )
