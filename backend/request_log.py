"""Pure ASGI middleware: the request's trace context, an ``X-Trace-Id`` response header,
and one ``hitl.access`` log line per request (method, path, status, duration, trace id,
principal).

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``, which runs the endpoint in
another task and wraps the response body in a stream: this one only wraps ``send``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.tracecontext import RequestContext, _current, new_trace_id, parse_traceparent

__all__ = ["TRACE_HEADER", "RequestLogMiddleware"]

TRACE_HEADER = "x-trace-id"
_TRACE_HEADER = TRACE_HEADER.encode()
access_log = logging.getLogger("hitl.access")


#: Logged for a request cancelled before its answer started (nginx's convention).
CLIENT_CLOSED = 499


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        trace_id = None
        for name, value in scope["headers"]:
            if name == b"traceparent":
                trace_id = parse_traceparent(value)
                break
        ctx = RequestContext(trace_id or new_trace_id(), traced=trace_id is not None)
        token = _current.set(ctx)
        status = 500

        async def send_traced(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((_TRACE_HEADER, ctx.trace_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_traced)
        except asyncio.CancelledError:
            # Cancelled before answering: the client went away or the server is stopping
            # (a pending long-poll). Not a server error; logged as nginx's 499.
            if status == 500:
                status = CLIENT_CLOSED
            raise
        finally:
            _current.reset(token)
            level = logging.INFO if status < 500 else logging.ERROR
            if access_log.isEnabledFor(level):
                method, path = scope["method"], scope["path"]
                access_log.log(
                    level,
                    "%s %s %d",
                    method,
                    path,
                    status,
                    extra={
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                        "trace_id": ctx.trace_id,
                        "principal": ctx.principal,
                    },
                )
