from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.deps import CurrentViewer, StateDep
from backend.services import changes as svc
from store.contracts import Problem, QueueChanges

router = APIRouter(prefix="/v1", tags=["supervisors"])


@router.get("/queue/changes", response_model=QueueChanges, responses={401: {"model": Problem}})
async def queue_changes(
    supervisor: CurrentViewer,
    state: StateDep,
    after: Annotated[
        int | None,
        Query(ge=0, description="The cursor of the previous answer; omit to start from now"),
    ] = None,
    wait: Annotated[float, Query(ge=0, description="Long-poll up to this many seconds")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> QueueChanges:
    """Changes to cases in your groups after a cursor, oldest first: follow the queue live."""
    return await svc.wait_for_changes(
        state, supervisor=supervisor, after=after, limit=limit, wait=wait
    )
