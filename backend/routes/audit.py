from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from backend.deps import CurrentViewer, StateDep
from backend.services.audit_export import case_audit, checkpoint_key_info, export_stream
from store.contracts import CaseAuditEvent, Problem

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/jsonl": {}},
            "description": "JSON Lines: header, events (elided outside your groups unless "
            "you are an admin), signed checkpoint",
        }
    },
)
def export(supervisor: CurrentViewer, state: StateDep) -> StreamingResponse:
    """The audit log as JSON Lines, ending in a checkpoint signed now. Verify with
    `hitl audit verify FILE`. Admins get every event; anyone else gets the events of
    cases outside their groups elided to lines that keep the chain linked, which the
    signed checkpoint vouches for."""
    return StreamingResponse(
        export_stream(state, supervisor=supervisor),
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="hitl-audit.jsonl"'},
    )


@router.get("/audit/key")
async def key(state: StateDep) -> dict[str, str]:
    """The backend's checkpoint key, to pin with `hitl audit verify --trust-key`."""
    return checkpoint_key_info(state)


@router.get(
    "/cases/{case_id}/audit",
    response_model=list[CaseAuditEvent],
    responses={404: {"model": Problem}},
)
async def case_trail(
    case_id: int, supervisor: CurrentViewer, state: StateDep
) -> list[CaseAuditEvent]:
    """The case's audit trail, oldest first: who did what, when, with each event's hash in
    the log's chain. 404 outside your groups."""
    return await run_in_threadpool(case_audit, state, supervisor=supervisor, case_id=case_id)
