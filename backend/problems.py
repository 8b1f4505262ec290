"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = ["PROBLEM_JSON", "ProblemError", "install_problem_handlers"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("hitl.backend")


class ProblemError(Exception):
    """Raise from services and routes; becomes a problem+json response."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers
        self.extra = extra


def _response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return _response(request, exc.status, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized"}.get(
            exc.status_code, "HTTP error"
        )
        return _response(request, exc.status_code, title, str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": _loc(tuple(e.get("loc", ()))), "msg": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        shown = "; ".join(f"{e['loc']}: {e['msg']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        return _response(
            request, 422, "Invalid request", f"fix these fields: {shown}{more}", errors=errors
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _response(
            request,
            500,
            "Internal error",
            "the server failed to handle this request; nothing was changed. See the server log.",
        )
