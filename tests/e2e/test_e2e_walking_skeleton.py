"""One real escalation the whole way: agent → real uvicorn → console under Pilot → signed
decision → agent sees it → audit export → `hitl audit verify` (and it catches tampering)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.app import HitlApp
from console.client import HitlClient
from console.config import ConsoleSettings
from console.screens.approve_dialog import ApproveDialog
from console.screens.queue import QueueScreen
from store.samples import sample_escalations
from store.signing import public_key_b64
from tests.conftest import LiveBackend
from tests.console.conftest import loaded_queue, open_case, wait_until

pytestmark = pytest.mark.e2e

HITL = [sys.executable, "-m", "console"]


def _hitl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HITL, *args], capture_output=True, text=True, env=env, timeout=60)


async def test_escalation_approved_in_console_reaches_agent_and_audit_verifies(
    live_backend: LiveBackend, tmp_path: Path
) -> None:
    """The agent's escalation shows up in the console, the supervisor approves it with
    keys only, the agent's long-poll returns the approval, and the exported audit log
    verifies offline, while a tampered copy does not."""
    escalation = sample_escalations(1)[0]
    async with (
        HitlClient(live_backend.url, live_backend.agent_token) as agent,
        HitlClient(live_backend.url, live_backend.supervisor_token) as supervisor,
    ):
        created = await agent.submit_escalation(escalation)
        key = Ed25519PrivateKey.generate()
        await supervisor.enroll_key(public_key_b64(key.public_key()))
        me = await supervisor.me()
        outcome = asyncio.create_task(agent.escalation(created.id, wait=30))

        app = HitlApp(ConsoleSettings(url=live_backend.url), client=supervisor, me=me, key=key)
        async with app.run_test(size=(80, 24)) as pilot:
            table = await loaded_queue(pilot)
            assert created.id in table.items
            screen = await open_case(pilot, row=0)
            assert screen.case_id == created.id
            await pilot.press("a")
            await wait_until(pilot, lambda: isinstance(app.screen, ApproveDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), within=10)
            await wait_until(
                pilot, lambda: created.id not in app.screen.query_one(type(table)).items, within=10
            )

        status = await asyncio.wait_for(outcome, timeout=30)
        key_info = await agent.audit_key()
    assert status.status == "decided"
    assert status.decision is not None
    assert status.decision.action == "approve"
    assert status.decision.decided_by == "alice"
    assert status.decision.resolved_action == escalation.proposed_action

    env = {
        **os.environ,
        "HITL_URL": live_backend.url,
        "HITL_TOKEN": live_backend.supervisor_token,
        "HITL_CONFIG": str(tmp_path / "absent.toml"),
    }
    export = tmp_path / "audit.jsonl"
    result = _hitl("audit", "export", "--out", str(export), env=env)
    assert result.returncode == 0, result.stderr
    ok = _hitl("audit", "verify", str(export), "--trust-key", key_info["keyid"], env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1 signed decisions" in ok.stdout

    lines = export.read_text().splitlines()
    decision_line = next(n for n, line in enumerate(lines) if "decision.recorded" in line)
    event = json.loads(lines[decision_line])
    event["body"] = event["body"].replace('"approve"', '"reject"')
    lines[decision_line] = json.dumps(event)
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text("\n".join(lines) + "\n")
    bad = _hitl("audit", "verify", str(tampered), env=env)
    assert bad.returncode == 1
    assert f"line {decision_line + 1}" in bad.stdout + bad.stderr
