"""What the request-log middleware adds per request, in process (no sockets, no server).

A FastAPI app with one no-op ``async def`` route, called through the ASGI interface
directly, with and without :class:`backend.request_log.RequestLogMiddleware`; and with it
while the access log is on (JSON lines into a null stream, so formatting is measured but
not the terminal). The difference is the middleware's cost per request; the API
benchmark (``bench_api.py``) shows it against whole hitl requests.

    .venv/bin/python tests/bench/bench_request_log.py [--n 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastapi import FastAPI, Response  # noqa: E402

from backend.logs import JsonFormatter  # noqa: E402
from backend.request_log import RequestLogMiddleware  # noqa: E402

TRACEPARENT = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def make_app(middleware: bool) -> FastAPI:
    app = FastAPI()

    @app.get("/noop")
    async def noop() -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    if middleware:
        app.add_middleware(RequestLogMiddleware)
    return app


def _scope() -> dict[str, object]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/noop",
        "raw_path": b"/noop",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"hitl.test"), (b"traceparent", TRACEPARENT)],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
    }


async def _receive() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: object) -> None:
    return None


async def block_us(app: FastAPI, n: int) -> float:
    """Microseconds per request over ``n`` sequential requests."""
    t0 = time.perf_counter()
    for _ in range(n):
        await app(_scope(), _receive, _send)
    return (time.perf_counter() - t0) / n * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="requests per block")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    access = logging.getLogger("hitl.access")
    access.propagate = False
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    access.addHandler(handler)
    bare, wrapped = make_app(False), make_app(True)
    variants = {
        "without the middleware": (bare, logging.WARNING),
        "with it, access log off": (wrapped, logging.WARNING),
        "with it, a JSON access line each": (wrapped, logging.INFO),
    }
    best = dict.fromkeys(variants, float("inf"))
    for app, _ in variants.values():
        await block_us(app, 500)  # warm up
    # Variants take turns in blocks, so a noisy neighbour slows them alike.
    for _ in range(args.rounds):
        for name, (app, level) in variants.items():
            access.setLevel(level)
            best[name] = min(best[name], await block_us(app, args.n))

    base = best["without the middleware"]
    print(f"no-op GET through FastAPI in process, best block of {args.rounds} x {args.n}")
    for name, us in best.items():
        extra = f"  (+{us - base:.1f})" if us is not base else ""
        print(f"  {name:<34} {us:7.1f} us{extra}")


if __name__ == "__main__":
    asyncio.run(main())
