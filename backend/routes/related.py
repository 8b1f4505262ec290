from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from backend.deps import CurrentViewer, StateDep
from backend.services.related import related_cases
from store.contracts import Problem, RelatedCases

router = APIRouter(prefix="/v1", tags=["supervisors"])


@router.get(
    "/cases/{case_id}/related",
    response_model=RelatedCases,
    responses={404: {"model": Problem}},
)
async def related(
    case_id: int,
    supervisor: CurrentViewer,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=20, description="Cases per relation")] = 5,
) -> RelatedCases:
    """Cases of your groups that share the agent, the trace id or a redacted value (the
    same placeholder) with this one, newest first, grouped by relation. 404 outside your
    groups."""
    return await run_in_threadpool(
        related_cases, state, supervisor=supervisor, case_id=case_id, limit=limit
    )
