from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from backend.deps import CurrentSupervisor, StateDep
from backend.services.audit_export import checkpoint_key_info, export_stream

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"application/jsonl": {}},
            "description": "JSON Lines: header, events, signed checkpoint",
        }
    },
)
def export(supervisor: CurrentSupervisor, state: StateDep) -> StreamingResponse:
    """The audit log as JSON Lines, ending in a checkpoint signed now. Verify with
    `hitl audit verify FILE`."""
    return StreamingResponse(
        export_stream(state),
        media_type="application/jsonl",
        headers={"Content-Disposition": 'attachment; filename="hitl-audit.jsonl"'},
    )


@router.get("/key")
async def key(state: StateDep) -> dict[str, str]:
    """The backend's checkpoint key, to pin with `hitl audit verify --trust-key`."""
    return checkpoint_key_info(state)
