from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from starlette.concurrency import run_in_threadpool

from backend.deps import CurrentSupervisor, CurrentViewer, StateDep
from backend.services import cases as svc
from store.cases import QueueSort
from store.contracts import (
    CasePublic,
    ClaimPublic,
    DecisionPublic,
    Envelope,
    Problem,
    QueuePage,
    Severity,
)

router = APIRouter(prefix="/v1", tags=["supervisors"])


@router.get("/queue", response_model=QueuePage, responses={400: {"model": Problem}})
async def queue(
    supervisor: CurrentViewer,
    state: StateDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    severity: Severity | None = None,
    domain: str | None = None,
    group: str | None = None,
    include_deferred: bool = False,
    claimed: Annotated[
        bool | None,
        Query(description="true: only cases someone holds a claim on; false: only unclaimed"),
    ] = None,
    mine: Annotated[
        bool, Query(description="Only cases claimed by you or suggested to you")
    ] = False,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Only cases whose summary contains this text"),
    ] = None,
    sort: Annotated[
        QueueSort,
        Query(description="priority (severity, then SLA left), sla (SLA left) or age (oldest)"),
    ] = "priority",
    ids: Annotated[
        list[int] | None,
        Query(
            max_length=200,
            description="Only these cases, if still queued and matching the filters "
            "(what a live console asks after the change feed named them); no paging",
        ),
    ] = None,
) -> QueuePage:
    """Open cases in your groups, most severe first, then least time left to the SLA.

    Deferred cases are left out until their deferral ends; ``include_deferred`` lists them
    too (with ``deferred_until``). A cursor continues the order it was issued for."""
    return await run_in_threadpool(
        svc.get_queue,
        state,
        supervisor=supervisor,
        limit=min(limit, state.settings.queue_page_max),
        cursor=cursor,
        severity=severity,
        domain=domain,
        group=group,
        include_deferred=include_deferred,
        claimed=claimed,
        mine=mine,
        q=q,
        sort=sort,
        ids=ids,
    )


@router.get("/cases/{case_id}", response_model=CasePublic, responses={404: {"model": Problem}})
async def get_case(case_id: int, supervisor: CurrentViewer, state: StateDep) -> CasePublic:
    return await run_in_threadpool(svc.get_case, state, supervisor=supervisor, case_id=case_id)


@router.post(
    "/cases/{case_id}/claim",
    response_model=ClaimPublic,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
)
async def claim(case_id: int, supervisor: CurrentSupervisor, state: StateDep) -> ClaimPublic:
    """Claim (or renew your claim on) a case so others see you are on it."""
    return await run_in_threadpool(svc.claim_case, state, supervisor=supervisor, case_id=case_id)


@router.delete(
    "/cases/{case_id}/claim",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": Problem}, 409: {"model": Problem}},
)
async def release_claim(case_id: int, supervisor: CurrentSupervisor, state: StateDep) -> None:
    """Release your claim before it expires (nothing to do if nobody holds the case)."""
    await run_in_threadpool(svc.release_claim, state, supervisor=supervisor, case_id=case_id)


@router.post(
    "/cases/{case_id}/decisions",
    response_model=DecisionPublic,
    status_code=status.HTTP_201_CREATED,
    responses={404: {"model": Problem}, 409: {"model": Problem}, 422: {"model": Problem}},
)
async def decide(
    case_id: int, envelope: Envelope, supervisor: CurrentSupervisor, state: StateDep
) -> DecisionPublic:
    """Record a signed decision (a DSSE envelope over a DecisionPayload) made under your
    claim: the payload names the claim's token and a fresh nonce."""
    return await run_in_threadpool(
        svc.decide, state, supervisor=supervisor, case_id=case_id, envelope=envelope
    )
