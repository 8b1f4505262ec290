"""Webhooks through the HTTP API: a supervisor's decision reaches the agent's receiver (a
real HTTP server on loopback) signed per Standard Webhooks, from the durable outbox, with
retries, backoff, dead letters and leases; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import col, select
from standardwebhooks import Webhook

from backend.app import create_app
from backend.services.admin import (
    add_agent,
    add_supervisor,
    redeliver,
    set_webhook,
    webhook_secret,
)
from backend.services.escalations import submit_escalation
from backend.services.webhooks import check_webhook_url, enqueue_new_events
from backend.settings import BackendSettings
from backend.state import AppState
from backend.webhook_dispatcher import WebhookDispatcher
from console.client import HitlClient
from console.decisions import build_decision, sign_decision
from console.webhooks import WebhookVerificationError, verify_webhook
from store import outbox
from store.canonical import canonical_json
from store.contracts import EscalationStatus, WebhookEvent, utcnow
from store.db import read_session, write_session
from store.samples import sample_escalations
from store.signing import public_key_b64
from store.tables import Agent, WebhookCursor, WebhookDelivery
from tests.conftest import DOMAINS, FrozenClock
from tests.webhook_receiver import Receiver

FAST = {
    "webhook_poll_seconds": 0.05,
    "webhook_backoff_seconds": 0.2,
    "webhook_backoff_max_seconds": 5.0,
    "webhook_timeout_seconds": 5.0,
}


@dataclass
class Hooks:
    """One backend app (no lifespan: tests run dispatchers themselves), a supervisor with
    an enrolled key, and an agent whose webhook points at ``receiver``."""

    state: AppState
    app: Any
    clock: FrozenClock
    receiver: Receiver
    agent_id: int
    agent_token: str
    secret: str
    supervisor: HitlClient
    supervisor_id: int
    key: Ed25519PrivateKey
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def agent_client(self, token: str | None = None) -> HitlClient:
        import httpx

        return HitlClient(
            "http://hitl.test",
            token or self.agent_token,
            transport=httpx.ASGITransport(app=self.app),
        )

    def submit(self, n: int = 1, agent_id: int | None = None) -> list[EscalationStatus]:
        with read_session(self.state.engine) as session:
            agent = session.get(Agent, agent_id or self.agent_id)
        assert agent is not None
        return [
            submit_escalation(self.state, agent=agent, escalation=esc)[0]
            for esc in sample_escalations(n)
        ]

    async def decide(self, case_id: int, action: str = "approve") -> None:
        case = await self.supervisor.case(case_id)
        payload = build_decision(
            case,
            action=action,  # type: ignore[arg-type]
            supervisor_id=self.supervisor_id,
            key=self.key,
            signed_at=self.clock(),
        )
        await self.supervisor.decide(case_id, sign_decision(payload, self.key))

    def dispatch(self, state: AppState | None = None, **kw: Any) -> WebhookDispatcher:
        """Start a dispatcher (as the backend's lifespan would) until the test ends."""
        dispatcher = WebhookDispatcher(state or self.state, **kw)
        self.tasks.append(asyncio.create_task(dispatcher.run()))
        return dispatcher

    def deliveries(self) -> list[WebhookDelivery]:
        with read_session(self.state.engine) as session:
            return list(session.exec(select(WebhookDelivery).order_by(col(WebhookDelivery.id))))


def _settings(tmp_path: Path, db_url: str, **overrides: Any) -> BackendSettings:
    return BackendSettings(
        database_url=db_url,
        server_key=tmp_path / "server.pem",
        **(FAST | overrides),
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
async def hooks(
    tmp_path: Path, db_url: str, receiver: Receiver, settings_overrides: dict[str, Any]
) -> AsyncIterator[Hooks]:
    import httpx

    clock = FrozenClock(now=utcnow())
    app = create_app(_settings(tmp_path, db_url, **settings_overrides), clock=clock)
    state: AppState = app.state.hitl
    agent_id, agent_token = add_agent(
        state.engine,
        name="refund-bot",
        domains=DOMAINS,
        webhook_url=receiver.url,
        webhook_key=state.webhook_key,
    )
    sup_id, sup_token = add_supervisor(state.engine, name="alice", role="admin", groups=DOMAINS)
    supervisor = HitlClient("http://hitl.test", sup_token, transport=httpx.ASGITransport(app=app))
    key = Ed25519PrivateKey.generate()
    await supervisor.enroll_key(public_key_b64(key.public_key()))
    h = Hooks(
        state=state,
        app=app,
        clock=clock,
        receiver=receiver,
        agent_id=agent_id,
        agent_token=agent_token,
        secret=webhook_secret(state.webhook_key, agent_id=agent_id, version=1),
        supervisor=supervisor,
        supervisor_id=sup_id,
        key=key,
    )
    yield h
    for task in h.tasks:
        task.cancel()
    await asyncio.gather(*h.tasks, return_exceptions=True)
    await supervisor.aclose()
    state.engine.dispose()


def _verified(secret: str, request: Any) -> WebhookEvent:
    """What an agent does with a delivery: verify it (the reference library), parse it."""
    Webhook(secret).verify(request.body, request.headers)
    return verify_webhook(secret, body=request.body, headers=request.headers)


def _sample(state: AppState, name: str, result: str) -> float | None:
    return state.metrics.registry.get_sample_value(name, {"result": result} if result else {})


async def test_webhook_decision_reaches_the_agent_signed(hooks: Hooks) -> None:
    """A supervisor approves; the agent's receiver gets one POST whose Standard Webhooks
    signature verifies with the secret shown at creation, carrying the event and the
    escalation exactly as GET /v1/escalations/{id} shows it. The claim before it sends
    nothing."""
    (case,) = hooks.submit()
    await hooks.supervisor.claim(case.id)
    await hooks.decide(case.id)
    hooks.dispatch()

    (request,) = await hooks.receiver.arrived(1)
    event = _verified(hooks.secret, request)
    async with hooks.agent_client() as agent:
        polled = await agent.escalation(case.id)
    assert event.type == "decision.recorded"
    assert event.data == polled
    assert event.data.status == "decided"
    assert event.data.decision is not None and event.data.decision.action == "approve"
    assert request.body == canonical_json(json.loads(request.body))
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == f"hitl_evt_{event.seq}_agent_{hooks.agent_id}"
    await asyncio.sleep(0.3)  # several more passes: nothing else is sent
    assert len(hooks.receiver.received) == 1
    (row,) = hooks.deliveries()
    assert (row.state, row.attempts, row.last_status) == ("delivered", 1, 204)
    assert _sample(hooks.state, "hitl_webhook_deliveries_total", "delivered") == 1


async def test_webhook_sla_fallback_reaches_the_agent(hooks: Hooks) -> None:
    """Nobody decides in time: the sweeper's fallback reaches the agent by webhook too,
    as the system's decision with the action to take."""
    from backend.services.fallbacks import sweep_once

    (case,) = hooks.submit()
    assert case.due_at is not None
    hooks.clock.now = case.due_at + timedelta(seconds=1)
    assert sweep_once(hooks.state) == [case.id]
    hooks.dispatch()

    (request,) = await hooks.receiver.arrived(1)
    event = _verified(hooks.secret, request)
    assert event.type == "case.fallback_applied"
    assert event.data.status == "fallback"
    assert event.data.decision is not None and event.data.decision.action == "fallback"
    assert event.data.decision.resolved_action == case.fallback_action


async def test_verify_webhook_refuses_forged_deliveries(hooks: Hooks) -> None:
    """The agent SDK's verify_webhook accepts the real delivery and refuses one with an
    edited body, one signed by another secret and one replayed under another id."""
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    hooks.dispatch()
    (request,) = await hooks.receiver.arrived(1)
    assert verify_webhook(hooks.secret, body=request.body, headers=request.headers).seq > 0
    forged = request.body.replace(b'"approve"', b'"reject"')
    assert forged != request.body
    other = webhook_secret(hooks.state.webhook_key, agent_id=hooks.agent_id + 1, version=1)
    for secret, body, headers in (
        (hooks.secret, forged, request.headers),
        (other, request.body, request.headers),
        (hooks.secret, request.body, request.headers | {"webhook-id": "hitl_evt_1_agent_1"}),
    ):
        with pytest.raises(WebhookVerificationError):
            verify_webhook(secret, body=body, headers=headers)


async def test_webhook_agent_without_url_gets_nothing_queued(hooks: Hooks) -> None:
    """Decisions on the cases of an agent with no webhook queue no delivery; the outbox
    cursor still moves past them."""
    other_id, _ = add_agent(hooks.state.engine, name="quiet-bot", domains=DOMAINS)
    (case,) = hooks.submit(agent_id=other_id)
    await hooks.decide(case.id)
    dispatcher = WebhookDispatcher(hooks.state)
    async with dispatcher.client() as client:
        await dispatcher.run_once(client)
    assert hooks.deliveries() == []
    with read_session(hooks.state.engine) as session:
        cursor, head = outbox.cursor_and_head(session)
    assert cursor == head > 0


@pytest.mark.parametrize("settings_overrides", [{"webhook_max_attempts": 5}])
async def test_webhook_retries_a_500_with_growing_delays(hooks: Hooks) -> None:
    """The receiver fails twice with 500; the same message (same webhook-id, same body)
    comes again after about 0.2 s, then about 0.4 s, and is delivered on the third try."""
    hooks.receiver.statuses = [500, 500, 204]
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    hooks.dispatch()

    first, second, third = await hooks.receiver.arrived(3)
    assert (
        first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    )
    assert first.body == second.body == third.body
    assert second.at - first.at >= 0.2 * 0.8 - 0.01  # base, less up to 20 % jitter
    assert third.at - second.at >= 0.4 * 0.8 - 0.01  # doubled
    for request in (first, second, third):
        _verified(hooks.secret, request)
    await asyncio.sleep(0.2)
    (row,) = hooks.deliveries()
    assert (row.state, row.attempts) == ("delivered", 3)
    assert _sample(hooks.state, "hitl_webhook_deliveries_total", "failed") == 2
    assert _sample(hooks.state, "hitl_webhook_retries_total", "") == 2


@pytest.mark.parametrize("settings_overrides", [{"webhook_max_attempts": 3}])
async def test_webhook_dead_after_max_attempts_then_redelivered(hooks: Hooks) -> None:
    """A receiver that always fails gets exactly max attempts; the delivery is then dead
    (a dead letter on /metrics) with the reason. `hitl admin redeliver` queues it again,
    and once the receiver is healthy it arrives."""
    hooks.receiver.statuses = [500, 500, 500, 204]
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    hooks.dispatch()

    await hooks.receiver.arrived(3)
    await asyncio.sleep(1.0)  # well past the next retry it would have had
    assert len(hooks.receiver.received) == 3
    (row,) = hooks.deliveries()
    assert row.state == "dead"
    assert row.last_error == "HTTP 500 (gave up after 3 attempts)"
    assert _sample(hooks.state, "hitl_webhook_deliveries_total", "dead") == 1
    assert (
        hooks.state.metrics.registry.get_sample_value("hitl_webhook_outbox", {"state": "dead"}) == 1
    )

    assert redeliver(hooks.state.engine, agent="refund-bot") == 1
    (*_, last) = await hooks.receiver.arrived(4)
    _verified(hooks.secret, last)
    await asyncio.sleep(0.2)
    (row,) = hooks.deliveries()
    assert (row.state, row.attempts) == ("delivered", 1)


async def test_webhook_410_gone_is_not_retried(hooks: Hooks) -> None:
    """A receiver answering 410 Gone gets no second attempt (Standard Webhooks' advice)."""
    hooks.receiver.statuses = [410, 204]
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    hooks.dispatch()
    await hooks.receiver.arrived(1)
    await asyncio.sleep(0.6)
    assert len(hooks.receiver.received) == 1
    (row,) = hooks.deliveries()
    assert (row.state, row.last_status) == ("dead", 410)


@pytest.mark.parametrize("settings_overrides", [{"webhook_max_attempts": 2}])
async def test_webhook_honours_retry_after(hooks: Hooks) -> None:
    """A 503 with Retry-After: 1 delays the next attempt by a second, not the 0.2 s backoff."""
    hooks.receiver.statuses = [503, 204]
    hooks.receiver.headers = {"Retry-After": "1"}
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    hooks.dispatch()
    first, second = await hooks.receiver.arrived(2)
    assert second.at - first.at >= 0.95


async def test_two_dispatchers_never_send_a_delivery_twice(
    hooks: Hooks, tmp_path: Path, db_url: str
) -> None:
    """Two backend apps (two engines, as two processes would have) dispatch the same
    database at once: each of 12 decisions reaches the receiver exactly once."""
    hooks.receiver.delay = 0.05  # attempts overlap in time
    cases = hooks.submit(12)
    for case in cases:
        await hooks.decide(case.id)
    other = create_app(_settings(tmp_path, db_url), clock=hooks.clock)
    try:
        hooks.dispatch(owner="process-a")
        hooks.dispatch(other.state.hitl, owner="process-b")
        await hooks.receiver.arrived(12)
        await asyncio.sleep(0.5)
        ids = [r.headers["webhook-id"] for r in hooks.receiver.received]
        assert len(ids) == len(set(ids)) == 12
        for request in hooks.receiver.received:
            _verified(hooks.secret, request)
        assert {r.state for r in hooks.deliveries()} == {"delivered"}
    finally:
        for task in hooks.tasks:
            task.cancel()
        await asyncio.gather(*hooks.tasks, return_exceptions=True)
        hooks.tasks.clear()
        other.state.hitl.engine.dispose()


async def test_webhook_attempt_of_a_crashed_process_is_retried_after_its_lease(
    hooks: Hooks,
) -> None:
    """A process that claimed a delivery and died never records an outcome; once its
    lease ends another process sends it, and a late answer from the dead one is ignored."""
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    enqueue_new_events(hooks.state.engine, now=utcnow())
    crashed = WebhookDispatcher(hooks.state, owner="crashed")
    (claimed,) = crashed._claim()  # claimed, then the process "dies"
    await asyncio.sleep(0.3)
    assert hooks.receiver.received == []  # still leased: nobody sends it

    later = utcnow() + crashed.lease + timedelta(seconds=1)
    hooks.dispatch(owner="survivor", clock=lambda: later)
    (request,) = await hooks.receiver.arrived(1)
    _verified(hooks.secret, request)
    await asyncio.sleep(0.2)
    with write_session(hooks.state.engine) as session:
        assert not outbox.record_outcome(
            session,
            delivery_id=claimed.id,
            attempt=claimed.attempt,
            owner="crashed",
            now=utcnow(),
            state="pending",
            error="late",
            retry_at=utcnow(),
        )
    (row,) = hooks.deliveries()
    assert (row.state, row.attempts) == ("delivered", 2)


async def test_webhook_rotation_signs_with_old_and_new_secret(hooks: Hooks) -> None:
    """After `set-webhook --rotate`, deliveries verify with the new secret, and (for the
    grace period) with the old one, so the agent can switch without losing any."""
    change = set_webhook(
        hooks.state.engine, name="refund-bot", webhook_key=hooks.state.webhook_key, rotate=True
    )
    assert change.secret is not None and change.secret != hooks.secret
    assert change.secret_version == 2 and change.previous_valid_until is not None
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    hooks.dispatch()
    (request,) = await hooks.receiver.arrived(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert _verified(change.secret, request).data.id == case.id
    assert _verified(hooks.secret, request).data.id == case.id


async def test_webhook_removed_url_cancels_pending_deliveries(hooks: Hooks) -> None:
    """An agent whose webhook is removed gets nothing more; what was queued is cancelled."""
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    enqueue_new_events(hooks.state.engine, now=utcnow())
    set_webhook(
        hooks.state.engine, name="refund-bot", webhook_key=hooks.state.webhook_key, remove=True
    )
    dispatcher = WebhookDispatcher(hooks.state)
    async with dispatcher.client() as client:
        await dispatcher.run_once(client)
    assert hooks.receiver.received == []
    (row,) = hooks.deliveries()
    assert row.state == "cancelled"


async def test_webhook_refuses_to_sign_with_another_servers_key(
    hooks: Hooks, tmp_path: Path, db_url: str
) -> None:
    """A backend whose webhook key is not the one the agent's secret came from sends
    nothing the agent would reject, and says why in the delivery's last error."""
    wrong = create_app(
        _settings(tmp_path, db_url, webhook_key="another-webhook-key-of-32-chars-or-more"),
        clock=hooks.clock,
    )
    try:
        (case,) = hooks.submit()
        await hooks.decide(case.id)
        dispatcher = WebhookDispatcher(wrong.state.hitl)
        async with dispatcher.client() as client:
            await dispatcher.run_once(client)
        assert hooks.receiver.received == []
        (row,) = hooks.deliveries()
        assert row.state == "pending"
        assert row.last_error is not None and "HITL_WEBHOOK_KEY" in row.last_error
    finally:
        wrong.state.hitl.engine.dispose()


async def test_webhook_rescan_queues_each_event_once(hooks: Hooks) -> None:
    """Scanning the audit log again from an older cursor (as after a crash between the
    insert and the cursor's commit) adds no second delivery."""
    (case,) = hooks.submit()
    await hooks.decide(case.id)
    enqueue_new_events(hooks.state.engine, now=utcnow())
    with write_session(hooks.state.engine) as session:
        cursor = session.get(WebhookCursor, 1)
        assert cursor is not None
        cursor.seq = 0
        session.add(cursor)
    enqueue_new_events(hooks.state.engine, now=utcnow())
    assert len(hooks.deliveries()) == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://agents.example/hook", "must start with https://"),
        ("agents.example/hook", "must start with https://"),
        ("https://", "names no host"),
        ("https://user:pw@agents.example/hook", "no credentials"),
        ("https://agents.example:99999/hook", "invalid port"),
    ],
)
def test_webhook_url_is_checked(url: str, message: str) -> None:
    """A URL a webhook cannot go to is refused with what to fix."""
    with pytest.raises(ValueError, match=message):
        check_webhook_url(url)


def test_admin_cli_refuses_a_non_http_webhook_url(tmp_path: Path, db_url: str) -> None:
    """`hitl admin create-agent --webhook-url ftp://…` exits 2 with a clear message and
    creates no agent; with an https URL it prints the token and the secret once."""
    base = [sys.executable, "-m", "backend", "admin", "create-agent"]
    common = ["--database-url", db_url, "--server-key", str(tmp_path / "server.pem")]
    bad = subprocess.run(
        [*base, "bot", "--webhook-url", "ftp://agents.example/hook", *common],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "must start with https://" in bad.stderr
    good = subprocess.run(
        [*base, "bot", "--webhook-url", "https://agents.example/hook", *common, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(good.stdout)
    assert out["name"] == "bot"
    assert out["webhook_secret"].startswith("whsec_")
    assert (tmp_path / "webhook_key").stat().st_mode & 0o777 == 0o600


def test_admin_cli_sets_rotates_and_lists_webhooks(tmp_path: Path, db_url: str) -> None:
    """`hitl admin set-webhook` gives an agent a URL and prints its secret once, rotates it
    (old secret valid for a day), refuses to run under another server's webhook key, and
    names an unknown agent; `set-rate-limit` and `webhooks` answer as the README says."""
    from typer.testing import CliRunner

    from backend.cli import app as cli

    def admin(*args: str, key: Path = tmp_path / "server.pem") -> Any:
        extra = ["--server-key", str(key)] if args[0] == "set-webhook" else []
        return CliRunner().invoke(
            cli, ["admin", *args, "--database-url", db_url, *extra], env={"COLUMNS": "300"}
        )

    assert admin("create-agent", "bot").exit_code == 0
    first = admin("set-webhook", "bot", "--url", "https://agents.example/hook", "--json")
    assert first.exit_code == 0, first.output
    issued = json.loads(first.stdout)
    assert issued["webhook_secret_version"] == 1 and issued["webhook_secret"].startswith("whsec_")
    rotated = json.loads(admin("set-webhook", "bot", "--rotate", "--json").stdout)
    assert rotated["webhook_secret_version"] == 2
    assert rotated["webhook_secret"] != issued["webhook_secret"]
    assert rotated["previous_secret_valid_until"] is not None

    elsewhere = admin("set-webhook", "bot", "--url", "https://x.example/h", key=tmp_path / "o/k")
    assert elsewhere.exit_code == 2
    assert "issued under another webhook key" in elsewhere.stderr
    unknown = admin("set-webhook", "nobody", "--url", "https://agents.example/hook")
    assert (unknown.exit_code, unknown.stderr.strip()) == (1, "there is no agent named 'nobody'")
    assert admin("set-webhook", "bot", "--url", "mailto:ops@agents.example").exit_code == 2

    assert admin("set-rate-limit", "bot").exit_code == 2
    limited = admin("set-rate-limit", "bot", "--burst", "5")
    assert limited.exit_code == 0 and "burst/s 5" in limited.stdout
    listing = admin("webhooks", "--state", "dead", "--json")
    assert (listing.exit_code, listing.stdout) == (0, "")
    assert "delivery state is one of" in admin("webhooks", "--state", "lost").stderr
