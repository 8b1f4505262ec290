"""Agents submitting escalations and reading their outcome."""

from __future__ import annotations

import asyncio

import pytest

from console.errors import AuthError, Conflict, InvalidRequest, NotFound
from store.contracts import EscalationCreate
from store.samples import sample_escalations


def _one(**changes: object) -> EscalationCreate:
    return sample_escalations(1)[0].model_copy(update=changes)


async def test_submit_escalation_creates_open_case(backend_env) -> None:
    """An agent's escalation becomes an open case with a severity, group and SLA."""
    agent = backend_env.client(backend_env.agent_token)
    status = await agent.submit_escalation(_one())
    assert status.status == "open"
    assert status.group == _one().domain
    assert status.due_at > backend_env.clock()
    assert status.decision is None


async def test_submit_escalation_same_key_same_body_returns_same_case(backend_env) -> None:
    """Retrying with the same idempotency key returns the case created the first time."""
    agent = backend_env.client(backend_env.agent_token)
    first = await agent.submit_escalation(_one())
    again = await agent.submit_escalation(_one())
    assert again.id == first.id


async def test_submit_escalation_same_key_other_body_conflicts(backend_env) -> None:
    """Reusing a key for a different escalation is refused with a message naming the case."""
    agent = backend_env.client(backend_env.agent_token)
    first = await agent.submit_escalation(_one())
    with pytest.raises(Conflict) as err:
        await agent.submit_escalation(_one(summary="something else entirely"))
    assert f"case {first.id}" in err.value.detail


async def test_submit_escalation_invalid_body_says_which_fields(backend_env) -> None:
    """A malformed body gets 422 problem+json naming each field to fix."""
    agent = backend_env.client(backend_env.agent_token)
    response = await agent._http.post(
        "/v1/escalations",
        json={"idempotency_key": "x", "domain": "payments", "confidence": {"reported": 1.7}},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    for name in ("summary", "proposed_action", "confidence.reported", "model"):
        assert name in detail


async def test_submit_escalation_needs_agent_token(backend_env) -> None:
    """Without a valid agent token nothing is stored: 401."""
    with pytest.raises(AuthError):
        await backend_env.client("hitl_agent_wrong").submit_escalation(_one())
    with pytest.raises(AuthError):  # a supervisor token is not an agent token
        await backend_env.client(backend_env.supervisor_token).submit_escalation(_one())


async def test_submit_escalation_outside_agent_domains_forbidden(backend_env) -> None:
    """An agent scoped to some domains cannot escalate in another."""
    with pytest.raises(InvalidRequest):
        await backend_env.client(backend_env.agent_token).submit_escalation(
            _one(domain="Not A Domain")
        )
    from backend.services.admin import add_agent

    _, token = add_agent(backend_env.state.engine, name="scoped", domains=["payments"])
    with pytest.raises(AuthError) as err:
        await backend_env.client(token).submit_escalation(_one(domain="moderation"))
    assert "payments" in err.value.detail


async def test_escalation_status_only_for_own_cases(backend_env) -> None:
    """Another agent cannot read a case it did not submit (404)."""
    from backend.services.admin import add_agent

    mine = await backend_env.client(backend_env.agent_token).submit_escalation(_one())
    _, other = add_agent(backend_env.state.engine, name="other-bot", domains=[])
    with pytest.raises(NotFound):
        await backend_env.client(other).escalation(mine.id)


async def test_escalation_wait_returns_when_time_is_up(backend_env) -> None:
    """A long-poll on an undecided case returns the open status after the wait."""
    agent = backend_env.client(backend_env.agent_token)
    created = await agent.submit_escalation(_one())
    status = await asyncio.wait_for(agent.escalation(created.id, wait=0.3), timeout=5)
    assert status.status == "open"


def test_builtin_triage_severity_follows_risk_and_confidence() -> None:
    """High-risk flags or large amounts are critical; low confidence is high severity."""
    from backend.services.triage import BuiltinTriage
    from store.contracts import Confidence

    triage = BuiltinTriage()
    base = _one(risk_flags=[], amount=None)
    assert (
        triage.evaluate(base.model_copy(update={"risk_flags": ["irreversible"]})).severity
        == "critical"
    )
    assert triage.evaluate(base.model_copy(update={"amount": 25_000.0})).severity == "critical"
    low = base.model_copy(update={"confidence": Confidence(reported=0.9, calibrated=0.3)})
    assert triage.evaluate(low).severity == "high"
    assert triage.evaluate(low).policy.rule == "low-confidence"
    sure = base.model_copy(update={"confidence": Confidence(reported=0.95)})
    assert triage.evaluate(sure).severity == "low"


async def test_submit_escalation_huge_integer_is_422_not_a_crash(backend_env) -> None:
    """An integer canonical JSON cannot carry exactly is refused with what to do instead."""
    agent = backend_env.client(backend_env.agent_token)
    body = _one().model_dump(mode="json")
    body["context"] = {"order": {"number": 12345678901234567890}}
    response = await agent._http.post("/v1/escalations", json=body)
    assert response.status_code == 422
    assert "body.context: Value error, order.number" in response.json()["detail"]
    assert "as strings" in response.json()["detail"]
    body["context"] = {}
    body["proposed_action"]["args"] = {"big": -(2**60)}
    response = await agent._http.post("/v1/escalations", json=body)
    assert response.status_code == 422
