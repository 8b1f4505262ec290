"""The proof: two real backend processes on one database, each running the SLA sweeper.

Both sweep every 0.2 s against cases whose SLA is 2 seconds, so they race for every case.
Each case's fallback must fire exactly once: one Decision row, one audit event, the agent
sees it (long-polling the *other* process), and `hitl audit verify` passes on the export.
Runs on a SQLite file and on PostgreSQL (``db_url``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from backend.services.admin import add_agent, add_supervisor
from backend.services.policies import push_policy
from console.client import HitlClient
from store.contracts import ActionSpec, Confidence, EscalationStatus
from store.db import make_engine
from store.samples import sample_escalations
from tests.conftest import free_port

POLICY = """\
id = "payments-fast"
description = "Every refund is reviewed within two seconds, or goes ahead as proposed"
domains = ["payments"]

[defaults]
fallback = "approve"
sla = { low = "2s", medium = "2s", high = "2s", critical = "2s" }

[[rules]]
name = "default"
description = "Any refund: a human has two seconds"
when = "true"
outcome = "escalate"
severity = "low"
"""

CASES = 6


def _serve(url: str, key: Path, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {
        **os.environ,
        "HITL_DATABASE_URL": url,
        "HITL_SLA_SWEEP_SECONDS": "0.2",
        "HITL_POLICY_REFRESH_SECONDS": "0",
    }
    # Log level info: each process logs the fallbacks it applied (hitl.events).
    args = ["serve", "--port", str(port), "--server-key", str(key), "--log-level", "info"]
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return f"http://127.0.0.1:{port}", proc


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90  # a loaded 2-core box imports slowly
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"backend did not start:\n{log.read_text()}")
        time.sleep(0.1)


@pytest.fixture
def two_backends(db_url: str, tmp_path: Path) -> Iterator[tuple[list[str], str, str]]:
    """Two `hitl serve` processes on ``db_url`` sharing the server key; yields their URLs,
    an agent token and a supervisor token."""
    engine = make_engine(db_url)
    _, agent = add_agent(engine, name="refund-bot", domains=["payments"])
    _, supervisor = add_supervisor(engine, name="alice", role="supervisor", groups=["payments"])
    push_policy(engine, source=POLICY, filename="payments-fast.toml", author="test")
    engine.dispose()
    procs = []
    try:
        for n in (1, 2):
            procs.append(_serve(db_url, tmp_path / "server.pem", tmp_path / f"backend{n}.log"))
            if n == 1:  # the first creates the server key; then both start at once
                _wait_healthy(*procs[0], tmp_path / "backend1.log")
        _wait_healthy(*procs[1], tmp_path / "backend2.log")
        yield [url for url, _ in procs], agent, supervisor
    finally:
        for _, proc in procs:
            proc.terminate()
        for _, proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_sla_fallback_fires_exactly_once_across_two_backend_processes(
    two_backends: tuple[list[str], str, str], db_url: str, tmp_path: Path
) -> None:
    """Cases submitted to one process and awaited on the other each get the fallback (the
    proposed action, as the policy says) exactly once, and the exported log verifies."""
    (first, second), agent_token, supervisor_token = two_backends
    proposed = ActionSpec(name="refund", args={"amount": 12})
    async with HitlClient(first, agent_token) as a, HitlClient(second, agent_token) as b:
        submitted = [
            await a.submit_escalation(
                sample_escalations(1)[0].model_copy(
                    update={
                        "idempotency_key": f"race-{i}",
                        "domain": "payments",
                        "proposed_action": proposed,
                        "confidence": Confidence(reported=0.9),
                    }
                )
            )
            for i in range(CASES)
        ]
        assert {s.status for s in submitted} == {"open"}
        assert {s.policy.rule for s in submitted if s.policy} == {"default"}
        outcomes: list[EscalationStatus] = await asyncio.gather(
            *(b.escalation(s.id, wait=30) for s in submitted)
        )
    for outcome in outcomes:
        assert outcome.status == "fallback", outcome
        assert outcome.decision is not None and outcome.decision.action == "fallback"
        assert outcome.decision.resolved_action == proposed
        assert outcome.decision.decided_by == "system"

    ids = [s.id for s in submitted]
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            decisions = Counter(
                conn.execute(
                    text("SELECT case_id FROM decisions WHERE action = 'fallback'")
                ).scalars()
            )
            events = Counter(
                conn.execute(
                    text("SELECT case_id FROM audit_events WHERE kind = 'case.fallback_applied'")
                ).scalars()
            )
            enrolled = conn.execute(
                text("SELECT count(*) FROM audit_events WHERE kind = 'supervisor.key_enrolled'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert decisions == dict.fromkeys(ids, 1)
    assert events == dict.fromkeys(ids, 1)
    assert enrolled == 1  # the shared server key, enrolled once for the system principal

    export = tmp_path / "audit.jsonl"
    async with HitlClient(first, supervisor_token) as sup:
        key = (await sup.audit_key())["keyid"]
        export.write_text("".join([line + "\n" async for line in sup.export_audit()]))
    verify = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "console", "audit", "verify", str(export), "--trust-key", key],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"{CASES} signed decisions" in verify.stdout, verify.stdout

    # Each process says which fallbacks it applied: together, each case once.
    fired = Counter(
        json.loads(line)["case_id"]
        for n in (1, 2)
        for line in (tmp_path / f"backend{n}.log").read_text().splitlines()
        if '"case.fallback_applied"' in line
    )
    assert fired == dict.fromkeys(ids, 1)
