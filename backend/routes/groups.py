from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from backend.deps import CurrentViewer, StateDep
from backend.services import groups as svc
from store.contracts import GroupPublic

router = APIRouter(prefix="/v1/groups", tags=["supervisors"])


@router.get("", response_model=list[GroupPublic])
async def list_groups(supervisor: CurrentViewer, state: StateDep) -> list[GroupPublic]:
    """Groups with their fallback group, open-case limit, open cases and who is on call:
    every group for admins, your own groups otherwise."""
    return await run_in_threadpool(svc.visible, state, supervisor=supervisor)
