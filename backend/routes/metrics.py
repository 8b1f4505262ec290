"""``GET /metrics``: Prometheus text format.

With ``HITL_METRICS_TOKEN`` set, a scraper sends it as a bearer token; without it, only
loopback clients may scrape (a backend bound to 127.0.0.1, the default, or a Prometheus
on the same host). Supervisor names and group names are in the metrics: they are not
for the open internet.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from backend.deps import StateDep
from backend.problems import ProblemError

router = APIRouter(tags=["operations"])


def _loopback(request: Request) -> bool:
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(request: Request, state: StateDep) -> Response:
    """Counters, histograms and gauges for Prometheus. Bearer ``HITL_METRICS_TOKEN`` if the
    backend has one; otherwise loopback clients only."""
    token = state.settings.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise ProblemError(
                401,
                "Unauthorized",
                "send the metrics token as 'Authorization: Bearer <HITL_METRICS_TOKEN>'",
                headers={"WWW-Authenticate": 'Bearer realm="hitl-metrics"'},
            )
    elif not _loopback(request):
        raise ProblemError(
            403,
            "Forbidden",
            "/metrics answers loopback clients only; set HITL_METRICS_TOKEN on the backend "
            "to scrape it from elsewhere",
        )
    # The queue depth gauge may run a query: off the event loop.
    body = await run_in_threadpool(generate_latest, state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
