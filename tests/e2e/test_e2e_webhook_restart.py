"""The outbox survives a crash: a real uvicorn backend, SIGKILLed while the agent's
receiver is down, restarted, and the decision still reaches the receiver exactly once,
signed with the secret `hitl admin` printed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.client import HitlClient
from console.decisions import build_decision, sign_decision
from console.webhooks import verify_webhook
from store.migrate import upgrade
from store.samples import sample_escalations
from store.signing import public_key_b64
from tests.conftest import DOMAINS, admin_cli, free_port
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

#: Fast retries so the test takes seconds: attempts 0.3 s apart at most 1 s.
ENV = {
    "HITL_WEBHOOK_POLL_SECONDS": "0.2",
    "HITL_WEBHOOK_BACKOFF_SECONDS": "0.3",
    "HITL_WEBHOOK_BACKOFF_MAX_SECONDS": "1",
    "HITL_WEBHOOK_TIMEOUT_SECONDS": "2",
}


def _serve(db_url: str, server_key: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, **ENV, "HITL_DATABASE_URL": db_url}
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backend",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--server-key",
                str(server_key),
                "--log-level",
                "warning",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"backend did not start:\n{log.read_text()}")
        time.sleep(0.1)


def _delivery(db: Path) -> tuple[str, int, str | None]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT state, attempts, last_error FROM webhook_deliveries").fetchall()
    assert len(rows) <= 1
    return rows[0] if rows else ("none", 0, None)


def _until(condition, what: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.timeout(300)  # two backend starts; each may take a while on a loaded box
async def test_webhook_survives_sigkill_and_arrives_exactly_once(tmp_path: Path) -> None:
    """The receiver is down when a supervisor decides; the backend records failed attempts,
    is killed with SIGKILL, and restarts. When the receiver comes up, the decision arrives
    once, its signature verifies with the secret from `hitl admin create-agent`, and no
    second copy follows."""
    db = tmp_path / "live.db"
    db_url = f"sqlite:///{db}"
    server_key = tmp_path / "server.pem"
    upgrade(db_url)
    receiver = Receiver()  # its port is chosen; nothing listens on it yet
    agent = admin_cli(
        db_url,
        "create-agent",
        "refund-bot",
        *[a for d in DOMAINS for a in ("--domain", d)],
        "--webhook-url",
        receiver.url,
        "--server-key",
        str(server_key),
    )
    sup = admin_cli(
        db_url, "create-supervisor", "alice", *[a for d in DOMAINS for a in ("--group", d)]
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "backend.log"
    backend = _serve(db_url, server_key, port, log)
    try:
        async with (
            HitlClient(url, str(agent["token"])) as agent_client,
            HitlClient(url, str(sup["token"])) as supervisor,
        ):
            created = await agent_client.submit_escalation(sample_escalations(1)[0])
            key = Ed25519PrivateKey.generate()
            await supervisor.enroll_key(public_key_b64(key.public_key()))
            case = await supervisor.case(created.id)
            payload = build_decision(case, action="approve", supervisor_id=int(sup["id"]), key=key)  # type: ignore[call-overload]
            await supervisor.decide(created.id, sign_decision(payload, key))

        state, attempts, error = _until(
            lambda: (d := _delivery(db))[1] >= 2 and d, "two failed attempts"
        )
        assert state == "pending" and error and "ConnectError" in error

        backend.kill()  # SIGKILL: no shutdown, no cleanup
        backend.wait()
        backend = _serve(db_url, server_key, port, log)
        _until(lambda: _delivery(db)[1] > attempts, "an attempt by the restarted backend")
        assert receiver.received == []

        receiver.start()
        (request,) = await receiver.arrived(1)
        await asyncio.sleep(2.0)  # ten more dispatcher passes: nothing else may come
        assert len(receiver.received) == 1
        event = verify_webhook(
            str(agent["webhook_secret"]), body=request.body, headers=request.headers
        )
        assert event.type == "decision.recorded"
        assert event.data.id == created.id
        assert event.data.decision is not None and event.data.decision.action == "approve"
        assert _delivery(db)[0] == "delivered"
    finally:
        backend.terminate()
        try:
            backend.wait(timeout=10)
        except subprocess.TimeoutExpired:
            backend.kill()
            backend.wait()
        receiver.stop()
