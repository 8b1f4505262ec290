from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from backend.deps import StateDep
from backend.problems import ProblemError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(state: StateDep) -> dict[str, str]:
    def ping() -> None:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as exc:
        raise ProblemError(503, "Database unavailable", str(exc)) from exc
    from importlib.metadata import version

    return {"status": "ok", "version": version("hitl-console")}
