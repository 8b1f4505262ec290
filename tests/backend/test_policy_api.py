"""Ingest under the active policy, through the HTTP API of the in-process app: each outcome
kind, the reason code supervisors see, and `hitl policy push` taking effect without restart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from backend.policies import example_policies
from backend.services.admin import add_agent
from backend.services.policies import push_policy
from backend.services.policy_triage import PolicyTriage
from store.contracts import ActionSpec, Confidence, EscalationCreate
from store.db import read_session
from store.samples import DOMAINS, sample_escalation
from store.tables import AuditEvent, Case
from tests.conftest import BackendEnv

EXAMPLES = {p.stem: p for p in example_policies()}


@pytest.fixture(autouse=True)
def _reload_on_every_ingest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The apps these tests build look for new policy versions on every ingest (set before
    backend_env builds its settings: autouse fixtures come first)."""
    monkeypatch.setenv("HITL_POLICY_REFRESH_SECONDS", "0")


@pytest.fixture
def env(backend_env: BackendEnv) -> BackendEnv:
    """backend_env (SQLite and PostgreSQL) with the example policies pushed."""
    for path in EXAMPLES.values():
        push_policy(
            backend_env.state.engine, source=path.read_text(), filename=path.name, author="t"
        )
    return backend_env


def escalation(domain: str, key: str, **changes: Any) -> EscalationCreate:
    """A sample of ``domain`` with neutral policy signals, then ``changes``."""
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "risk_flags": [],
        "tags": [],
        "data_quality_flags": [],
        "missing_inputs": [],
        "latency_budget_ms": None,
        "confidence": Confidence(reported=0.9, calibrated=0.9),
    }
    return sample_escalation(DOMAINS.index(domain)).model_copy(update={**fields, **changes})


def audit_kinds(env: BackendEnv, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    with read_session(env.state.engine) as session:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(col(AuditEvent.seq))
        ).all()
    return [(r.kind, json.loads(bytes(r.body))["data"]) for r in rows]


async def queued_ids(env: BackendEnv) -> list[int]:
    page = await env.client().queue(limit=200)
    return [item.id for item in page.items]


async def test_policy_escalate_queues_case_with_rule_and_reason(env: BackendEnv) -> None:
    """An escalate rule sets severity, group and SLA; the case records policy id, version,
    hash and rule, and the supervisor sees the rule's description as the reason."""
    agent = env.client(env.agent_token)
    status = await agent.submit_escalation(escalation("payments", "big", amount=12_480.0))
    assert (status.status, status.severity, status.group) == ("open", "critical", "payments")
    assert status.due_at is not None and (status.due_at - env.clock()).total_seconds() == 900
    assert status.policy is not None
    assert (status.policy.id, status.policy.version, status.policy.rule) == (
        "payments",
        "1",
        "large-refund",
    )
    assert status.policy.hash.startswith("sha256:")
    assert status.reason == (
        "Refunds of 10,000 or more are signed off within 15 minutes, with the reason on record"
    )
    assert status.fallback_action is not None and status.fallback_action.name == "hold_refund"

    case = await env.client().case(status.id)
    assert case.policy == status.policy
    assert case.reason == status.reason
    assert status.id in await queued_ids(env)
    (created,) = audit_kinds(env, status.id)
    assert created[0] == "case.created" and created[1]["reason"] == status.reason


async def test_policy_proceed_answers_agent_without_queueing(env: BackendEnv) -> None:
    """proceed: the agent goes ahead at once; the case is recorded and audited, never queued;
    a retry with the same key gets the same answer."""
    agent = env.client(env.agent_token)
    small = escalation("payments", "small", amount=19.99)
    status = await agent.submit_escalation(small)
    assert status.status == "proceed"
    assert status.severity is None and status.due_at is None and status.fallback_action is None
    assert status.policy is not None and status.policy.rule == "small-clean-refund"
    assert "without waiting" in status.reason
    assert status.id not in await queued_ids(env)
    again = await agent.submit_escalation(small)
    assert again == status
    assert (await agent.escalation(status.id, wait=5)) == status  # returns at once
    ((kind, data),) = audit_kinds(env, status.id)
    assert kind == "case.settled_by_policy"
    assert (
        data["outcome"] == "proceed" and data["content"]["policy"]["rule"] == "small-clean-refund"
    )


async def test_policy_block_tells_agent_why(env: BackendEnv) -> None:
    """block: the agent must not act; it is told the rule and the reason; nothing queued."""
    agent = env.client(env.agent_token)
    status = await agent.submit_escalation(
        escalation("moderation", "hold", tags=["legal_hold"], risk_flags=["public_figure"])
    )
    assert status.status == "blocked"
    assert status.policy is not None and status.policy.rule == "legal-hold"
    assert status.reason.startswith("The content is under legal hold")
    assert status.id not in await queued_ids(env)
    assert audit_kinds(env, status.id)[0][1]["outcome"] == "block"


async def test_policy_needs_info_names_missing_inputs(env: BackendEnv) -> None:
    """needs_info: the agent is told which inputs are missing instead of a human seeing an
    incomplete case."""
    agent = env.client(env.agent_token)
    body = escalation("payments", "partial", amount=None, missing_inputs=["carrier_tracking"])
    status = await agent.submit_escalation(body)
    assert status.status == "needs_info"
    assert status.missing_inputs == ["carrier_tracking", "amount"]
    assert status.policy is not None and status.policy.rule == "missing-order-details"
    assert status.id not in await queued_ids(env)
    with read_session(env.state.engine) as session:
        row = session.get(Case, status.id)
    assert row is not None and row.missing_inputs == ["carrier_tracking", "amount"]
    # Resubmitted complete, under a new key, it is triaged afresh.
    fixed = await agent.submit_escalation(
        body.model_copy(
            update={"idempotency_key": "partial-2", "amount": 89.0, "missing_inputs": []}
        )
    )
    assert fixed.status == "open" and fixed.policy is not None
    assert fixed.policy.rule == "default"


async def test_policy_push_takes_effect_without_restart(env: BackendEnv, tmp_path: Path) -> None:
    """A new version pushed while the backend runs decides the next escalation, and cases
    record which version decided them."""
    agent = env.client(env.agent_token)
    before = await agent.submit_escalation(escalation("payments", "a", amount=640.0))
    assert before.policy is not None
    assert (before.policy.version, before.policy.rule) == ("1", "above-auto-approve-limit")
    stricter = EXAMPLES["payments"].read_text().replace("amount >= 10000", "amount >= 500")
    push_policy(env.state.engine, source=stricter, filename="payments.toml", author="t")
    after = await agent.submit_escalation(escalation("payments", "b", amount=640.0))
    assert after.policy is not None
    assert (after.policy.version, after.policy.rule, after.severity) == (
        "2",
        "large-refund",
        "critical",
    )
    assert after.policy.hash != before.policy.hash
    old_case = await env.client().case(before.id)
    assert old_case.policy.version == "1"  # a case keeps the version that decided it


async def test_builtin_triage_without_policies(backend_env: BackendEnv) -> None:
    """No policy pushed: the builtin triage decides, with its reason."""
    agent = backend_env.client(backend_env.agent_token)
    status = await agent.submit_escalation(escalation("payments", "x", amount=12_480.0))
    assert status.status == "open" and status.severity == "critical"
    assert status.policy is not None and status.policy.id == "builtin"
    assert status.reason.startswith("A high-risk flag")


async def test_domain_without_policy_uses_builtin_triage(env: BackendEnv) -> None:
    """A domain no active policy governs still gets the builtin triage."""
    _, token = add_agent(env.state.engine, name="ops-bot", domains=[])
    status = await env.client(token).submit_escalation(
        escalation("payments", "ops").model_copy(
            update={"domain": "ops", "proposed_action": ActionSpec(name="restart")}
        )
    )
    assert status.status == "open"
    assert status.policy is not None and status.policy.id == "builtin"


def test_policy_triage_rechecks_versions_only_after_refresh_interval(
    backend_env: BackendEnv,
) -> None:
    """Between checks an ingest costs no database query; after the interval a newly
    activated version is picked up."""
    now = [0.0]
    triage = PolicyTriage(backend_env.state.engine, refresh_seconds=2.0, monotonic=lambda: now[0])
    body = escalation("payments", "t", amount=12_480.0)
    assert triage.evaluate(body).policy.id == "builtin"
    push_policy(
        backend_env.state.engine,
        source=EXAMPLES["payments"].read_text(),
        filename="payments.toml",
        author="t",
    )
    now[0] = 1.9
    assert triage.evaluate(body).policy.id == "builtin"
    now[0] = 2.1
    assert triage.evaluate(body).policy.rule == "large-refund"
