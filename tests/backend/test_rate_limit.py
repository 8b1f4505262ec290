"""Per-agent ingest rate limits through POST /v1/escalations: 429 problem+json with
Retry-After for the agent over its limit, nobody else."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.services.admin import add_agent, set_rate_limit
from backend.settings import BackendSettings
from store.samples import sample_escalations
from tests.conftest import DOMAINS


@pytest.fixture
async def app(tmp_path: Path, db_url: str) -> AsyncIterator[Any]:
    settings = BackendSettings(
        database_url=db_url, server_key=tmp_path / "server.pem", ingest_rate=0, ingest_burst=3
    )
    app = create_app(settings)
    yield app
    app.state.hitl.engine.dispose()


def _client(app: Any, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://hitl.test",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


async def _post(client: httpx.AsyncClient, n: int, offset: int = 0) -> list[httpx.Response]:
    """``n`` escalations at once (the limiter counts them before any database work, so
    they fall in one second however slow the machine); answers sorted by status."""
    escalations = sample_escalations(n + offset)[offset:]
    answers = await asyncio.gather(
        *(client.post("/v1/escalations", content=e.model_dump_json().encode()) for e in escalations)
    )
    return sorted(answers, key=lambda r: r.status_code)


async def test_ingest_over_the_burst_is_429_with_retry_after(app: Any) -> None:
    """The fourth escalation within a second is refused with 429 problem+json, a
    Retry-After of a second and a detail naming the limit; after waiting that long the
    agent is accepted again."""
    _, token = add_agent(app.state.hitl.engine, name="eager-bot", domains=DOMAINS)
    async with _client(app, token) as client:
        answers = await _post(client, 4)
        assert [r.status_code for r in answers] == [201, 201, 201, 429]
        refused = answers[-1]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["retry-after"] == "1"
        body = refused.json()
        assert body["status"] == 429
        assert body["retry_after"] == 1
        assert "'eager-bot' may submit 3 a second" in body["detail"]
        await asyncio.sleep(int(refused.headers["retry-after"]))
        (again,) = await _post(client, 1, offset=4)
        assert again.status_code == 201


async def test_ingest_limit_of_one_agent_leaves_others_alone(app: Any) -> None:
    """While one agent is being refused, another submits as usual."""
    _, noisy = add_agent(app.state.hitl.engine, name="noisy-bot", domains=DOMAINS)
    _, calm = add_agent(app.state.hitl.engine, name="calm-bot", domains=DOMAINS)
    async with _client(app, noisy) as a, _client(app, calm) as b:
        assert (await _post(a, 4))[-1].status_code == 429
        assert [r.status_code for r in await _post(b, 3)] == [201, 201, 201]


async def test_ingest_limit_per_agent_override(app: Any) -> None:
    """An agent given its own limit (`hitl admin set-rate-limit --burst 1`) is held to it;
    one given 0 is not limited at all."""
    engine = app.state.hitl.engine
    _, strict = add_agent(engine, name="strict-bot", domains=DOMAINS)
    _, free = add_agent(engine, name="free-bot", domains=DOMAINS)
    set_rate_limit(engine, name="strict-bot", rate=None, burst=1)
    set_rate_limit(engine, name="free-bot", rate=0, burst=0)
    async with _client(app, strict) as a, _client(app, free) as b:
        assert [r.status_code for r in await _post(a, 2)] == [201, 429]
        assert {r.status_code for r in await _post(b, 6)} == {201}


async def test_ingest_rate_per_minute_gives_a_longer_retry_after(
    tmp_path: Path, db_url: str
) -> None:
    """Over the per-minute rate, Retry-After says how long until the oldest request in the
    window leaves it (here just under a minute)."""
    settings = BackendSettings(
        database_url=db_url, server_key=tmp_path / "server.pem", ingest_rate=2, ingest_burst=0
    )
    app = create_app(settings)
    try:
        _, token = add_agent(app.state.hitl.engine, name="steady-bot", domains=DOMAINS)
        async with _client(app, token) as client:
            answers = await _post(client, 3)
        assert [r.status_code for r in answers] == [201, 201, 429]
        assert 55 <= int(answers[-1].headers["retry-after"]) <= 60
        assert "2 a minute" in answers[-1].json()["detail"]
    finally:
        app.state.hitl.engine.dispose()
