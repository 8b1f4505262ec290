"""The benchmarked app: hitl's own app plus no-op baselines, in one uvicorn process.

``GET /bench/noop`` and ``POST /bench/noop`` are the fastest endpoints this stack
allows: ``async def`` (no threadpool hop), no dependencies, no body parsing, no
response model, a prebuilt response. They share the server, event loop, HTTP parser and
middleware stack with the hitl routes, so the ratio of a hitl route to them is the
cost of hitl's own work. Configured like ``hitl serve``: ``HITL_DATABASE_URL`` and
``HITL_SERVER_KEY``.

    uvicorn --app-dir tests/bench bench_app:create_bench_app --factory
"""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI, Response

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.app import create_app  # noqa: E402

__all__ = ["NOOP_BODY", "create_bench_app"]

NOOP_BODY = b'{"ok":true}'


def create_bench_app() -> FastAPI:
    app = create_app()

    @app.get("/bench/noop", include_in_schema=False)
    async def noop_get() -> Response:
        return Response(NOOP_BODY, media_type="application/json")

    @app.post("/bench/noop", include_in_schema=False)
    async def noop_post() -> Response:
        return Response(NOOP_BODY, media_type="application/json")

    return app
