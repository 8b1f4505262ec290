"""Routing, availability, backpressure and the SLA sweeper, through the HTTP API.

Runs on SQLite and on PostgreSQL (``db_url``). The builtin triage decides severity from
confidence and risk flags (group = domain), so each test picks its severities directly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text
from sqlmodel import col

from backend.services.fallbacks import sweep_once
from backend.services.groups import configure_group
from console.decisions import build_decision, sign_decision
from console.errors import Conflict, InvalidRequest, NotFound
from store.audit import verify_export
from store.contracts import ActionSpec, Confidence, EscalationCreate, Severity
from store.db import read_session
from store.samples import sample_escalations
from store.signing import key_id, public_key_b64
from store.tables import AuditEvent, Case, Decision, Group
from tests.conftest import BackendEnv

_CONFIDENCE: dict[Severity, float] = {"low": 0.9, "medium": 0.6, "high": 0.3, "critical": 0.9}
HOLD_REFUND = ActionSpec(name="hold_refund", args={"order": "A-1"})


def esc(key: str, severity: Severity = "low", domain: str = "payments") -> EscalationCreate:
    """An escalation the builtin triage gives ``severity`` (group: its domain)."""
    return sample_escalations(1)[0].model_copy(
        update={
            "idempotency_key": key,
            "domain": domain,
            "confidence": Confidence(reported=_CONFIDENCE[severity]),
            "risk_flags": ["high_risk"] if severity == "critical" else [],
            "amount": None,
            "fallback_action": HOLD_REFUND,
        }
    )


def audit_events(env: BackendEnv, kind: str, case_id: int | None = None) -> list[AuditEvent]:
    with read_session(env.state.engine) as session:
        query = select(AuditEvent).where(AuditEvent.kind == kind)
        if case_id is not None:
            query = query.where(AuditEvent.case_id == case_id)
        return list(session.scalars(query))


def decisions_of(env: BackendEnv, case_id: int) -> list[Decision]:
    with read_session(env.state.engine) as session:
        return list(session.scalars(select(Decision).where(Decision.case_id == case_id)))


async def verified_export(env: BackendEnv) -> Any:
    client = env.client()
    key = await client.audit_key()
    lines = [line async for line in client.export_audit()]
    return verify_export(lines, trusted_checkpoint_key=key["keyid"])


# -- availability ------------------------------------------------------------------------


async def test_availability_is_set_by_the_supervisor_and_shown_in_me(backend_env) -> None:
    """A supervisor goes away and back on call; /v1/me says which, and the change is audited."""
    client = backend_env.client()
    assert (await client.me()).availability == "on_call"
    me = await client.set_availability("away")
    assert me.availability == "away"
    assert (await client.me()).availability == "away"
    assert (await client.set_availability("on_call")).availability == "on_call"
    changes = audit_events(backend_env, "supervisor.availability_changed")
    assert [e.body for e in changes] and len(changes) == 2


async def test_availability_refuses_an_unknown_value(backend_env) -> None:
    """Anything but on_call or away is a 422 naming the field."""
    response = await backend_env.client()._http.put(
        "/v1/me/availability", json={"availability": "sleeping"}
    )
    assert response.status_code == 422
    assert "availability" in response.json()["detail"]


# -- routing -----------------------------------------------------------------------------


async def test_routing_everyone_away_goes_to_the_fallback_group(backend_env) -> None:
    """Nobody in payments is on call: the case goes to payments' fallback group, says so,
    is suggested to the on-call member there, and is hidden from the first group's people."""
    configure_group(backend_env.state.engine, name="payments", fallback_group="payments-l2")
    await backend_env.client().set_availability("away")  # alice, the only payments member
    _, bob_token = backend_env.add_supervisor("bob", ["payments-l2"])
    bob = backend_env.client(bob_token)

    status = await backend_env.client(backend_env.agent_token).submit_escalation(esc("r-1"))
    assert status.status == "open"
    assert status.group == "payments-l2"

    case = await bob.case(status.id)
    assert case.group == "payments-l2"
    assert case.routed_from == "payments"
    assert "nobody on call in payments" in case.routing
    assert case.suggested_assignee == "bob"
    queue = await bob.queue()
    assert [(i.id, i.suggested_assignee) for i in queue.items] == [(status.id, "bob")]
    with pytest.raises(NotFound):
        await backend_env.client().case(status.id)
    [routed] = audit_events(backend_env, "case.routed", status.id)
    assert b'"from":"payments"' in routed.body and b'"to":"payments-l2"' in routed.body


async def test_routing_follows_the_chain_and_survives_a_loop(backend_env) -> None:
    """With a fallback chain that loops and nobody on call anywhere, the case stays in the
    policy's group, unsuggested, with the reason; once someone is on call down the chain,
    the next case goes there."""
    engine = backend_env.state.engine
    configure_group(engine, name="payments", fallback_group="l2")
    configure_group(engine, name="l2", fallback_group="l3")
    configure_group(engine, name="l3", fallback_group="payments")
    await backend_env.client().set_availability("away")
    _, carol_token = backend_env.add_supervisor("carol", ["l3"])
    carol = backend_env.client(carol_token)
    await carol.set_availability("away")
    agent = backend_env.client(backend_env.agent_token)

    kept = await agent.submit_escalation(esc("loop-1"))
    assert kept.group == "payments"
    case = await backend_env.client().case(kept.id)
    assert case.suggested_assignee is None and case.routed_from is None
    assert "payments, l2, l3" in case.routing and "loops back" in case.routing

    await carol.set_availability("on_call")
    moved = await agent.submit_escalation(esc("loop-2"))
    assert moved.group == "l3"
    case = await carol.case(moved.id)
    assert (case.routed_from, case.suggested_assignee) == ("payments", "carol")
    assert "payments, l2" in case.routing


async def test_routing_suggests_the_least_loaded_on_call_member(backend_env) -> None:
    """New cases go to whoever has the fewest open cases suggested to them; members who are
    away get none; a decided case lightens its assignee's load."""
    _, bob_token = backend_env.add_supervisor("bob", ["payments"])
    _, dave_token = backend_env.add_supervisor("dave", ["payments"])
    await backend_env.client(dave_token).set_availability("away")
    agent = backend_env.client(backend_env.agent_token)

    first = [await agent.submit_escalation(esc(f"load-{i}")) for i in range(4)]
    alice = backend_env.client()
    suggested = [(await alice.case(s.id)).suggested_assignee for s in first]
    assert sorted(suggested) == ["alice", "alice", "bob", "bob"]

    # Bob decides one of his: he is now the least loaded and gets the next case.
    bobs = next(s.id for s, who in zip(first, suggested, strict=True) if who == "bob")
    bob = backend_env.client(bob_token)
    key = Ed25519PrivateKey.generate()
    await bob.enroll_key(public_key_b64(key.public_key()))
    me = await bob.me()
    case = await bob.case(bobs)
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    await bob.decide(bobs, sign_decision(payload, key))
    nxt = await agent.submit_escalation(esc("load-next"))
    assert (await alice.case(nxt.id)).suggested_assignee == "bob"
    page = await alice.queue()
    assert {i.suggested_assignee for i in page.items} == {"alice", "bob"}


async def test_groups_api_shows_routing_and_load_to_admins(backend_env) -> None:
    """Admins see every group with its fallback, limit, open cases and who is on call;
    a supervisor sees only their own groups."""
    engine = backend_env.state.engine
    configure_group(
        engine,
        name="payments",
        fallback_group="payments-l2",
        open_case_limit=5,
        domains=["payments"],
    )
    configure_group(engine, name="elsewhere")
    _, admin_token = backend_env.add_supervisor("root", [], role="admin")
    agent = backend_env.client(backend_env.agent_token)
    await agent.submit_escalation(esc("g-1"))
    await agent.submit_escalation(esc("g-2", domain="moderation"))

    groups = {g.name: g for g in await backend_env.client(admin_token).groups()}
    assert {"payments", "moderation", "elsewhere"} <= set(groups)
    payments = groups["payments"]
    assert (payments.fallback_group, payments.open_case_limit) == ("payments-l2", 5)
    assert (payments.open_cases, payments.on_call, payments.domains) == (1, ["alice"], ["payments"])
    assert groups["moderation"].open_cases == 1
    mine = {g.name for g in await backend_env.client().groups()}
    assert "elsewhere" not in mine and "payments" in mine


# -- backpressure ------------------------------------------------------------------------


async def test_backpressure_low_and_medium_take_their_fallback_when_the_group_is_full(
    backend_env,
) -> None:
    """At its open-case limit a group takes no more low or medium cases: the agent gets the
    fallback at once, signed by the system and told why; high and critical still queue."""
    configure_group(backend_env.state.engine, name="payments", open_case_limit=2)
    agent = backend_env.client(backend_env.agent_token)
    queued = [await agent.submit_escalation(esc(f"bp-{i}")) for i in range(2)]
    assert [s.status for s in queued] == ["open", "open"]

    for severity in ("low", "medium"):
        status = await agent.submit_escalation(esc(f"bp-{severity}", severity))
        assert status.status == "fallback"
        assert status.decision is not None
        assert status.decision.action == "fallback"
        assert status.decision.resolved_action == HOLD_REFUND
        assert status.decision.decided_by == "system"
        assert "limit of 2" in status.reason and "payments" in status.reason
        [row] = decisions_of(backend_env, status.id)
        assert row.action == "fallback"
        assert len(audit_events(backend_env, "case.fallback_applied", status.id)) == 1
        # The agent reads the same answer later.
        again = await agent.escalation(status.id)
        assert again.status == "fallback" and again.reason == status.reason

    for severity in ("high", "critical"):
        status = await agent.submit_escalation(esc(f"bp-{severity}", severity))
        assert status.status == "open", severity
    page = await backend_env.client().queue()
    assert len(page.items) == 4
    report = await verified_export(backend_env)
    assert report.kinds["case.fallback_applied"] == 2


async def test_backpressure_counts_only_open_cases(backend_env) -> None:
    """Deciding a case frees a place: the next low case is queued again."""
    configure_group(backend_env.state.engine, name="payments", open_case_limit=1)
    agent = backend_env.client(backend_env.agent_token)
    first = await agent.submit_escalation(esc("c-1"))
    assert (await agent.submit_escalation(esc("c-2"))).status == "fallback"
    client = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    payload = build_decision(
        await client.case(first.id),
        action="reject",
        rationale="no",
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock(),
    )
    await client.decide(first.id, sign_decision(payload, key))
    assert (await agent.submit_escalation(esc("c-3"))).status == "open"


# -- the SLA sweeper ---------------------------------------------------------------------


async def test_sweeper_applies_the_fallback_once_past_due(backend_env) -> None:
    """Nothing happens before the due time; after it, one sweep applies the fallback as a
    system decision the agent reads, the case leaves the queue, a second sweep does
    nothing, a late supervisor decision is only recorded post hoc (the fallback stays the
    decision), and the export verifies offline."""
    agent = backend_env.client(backend_env.agent_token)
    status = await agent.submit_escalation(esc("sla-1", "critical"))  # due in 15 minutes
    other = await agent.submit_escalation(esc("sla-2", "low"))  # due in a day
    state = backend_env.state
    assert sweep_once(state) == []

    backend_env.clock.advance(15 * 60)
    assert sweep_once(state) == [status.id]
    assert sweep_once(state) == []

    seen = await agent.escalation(status.id)
    assert seen.status == "fallback"
    assert seen.decision is not None and seen.decision.action == "fallback"
    assert seen.decision.resolved_action == HOLD_REFUND
    assert seen.decision.decided_by == "system"
    assert "SLA" in seen.reason
    assert (await agent.escalation(other.id)).status == "open"

    client = backend_env.client()
    assert [i.id for i in (await client.queue()).items] == [other.id]
    case = await client.case(status.id)
    assert case.status == "fallback"
    assert case.decision is not None and case.decision.supervisor == "system"
    assert case.decision.key_id == key_id(state.server_key.public_key())

    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    payload = build_decision(
        case, action="approve", supervisor_id=me.id, key=key, signed_at=backend_env.clock()
    )
    late = await client.decide(status.id, sign_decision(payload, key))
    assert late.post_hoc
    with pytest.raises(Conflict):
        await client.claim(status.id)
    case = await client.case(status.id)
    assert case.status == "fallback" and case.flagged_for_review
    assert case.decision is not None and case.decision.action == "fallback"
    assert (await agent.escalation(status.id)).decision.action == "fallback"  # type: ignore[union-attr]

    assert sorted(d.action for d in decisions_of(backend_env, status.id)) == ["approve", "fallback"]
    assert len(audit_events(backend_env, "case.fallback_applied", status.id)) == 1
    report = await verified_export(backend_env)
    assert report.kinds["case.fallback_applied"] == 1
    assert report.decisions == 2  # the system's, and the post-hoc approval


async def test_sweeper_applies_the_fallback_to_a_case_waiting_on_the_agent(backend_env) -> None:
    """A case waiting for the agent's answer (info_requested) past its due time takes its
    fallback too: the clock does not stop while the agent is asked."""
    agent = backend_env.client(backend_env.agent_token)
    status = await agent.submit_escalation(esc("info-1", "high"))  # due in an hour
    with backend_env.state.engine.begin() as conn:  # as the request-info decision leaves it
        conn.execute(
            text("UPDATE cases SET status = 'info_requested' WHERE id = :id"), {"id": status.id}
        )
    backend_env.clock.advance(3600)
    assert sweep_once(backend_env.state) == [status.id]
    seen = await agent.escalation(status.id)
    assert seen.status == "fallback" and seen.decision is not None
    assert seen.decision.resolved_action == HOLD_REFUND


async def test_sweeper_leaves_decided_cases_alone(backend_env) -> None:
    """A case decided before its due time is never swept."""
    agent = backend_env.client(backend_env.agent_token)
    status = await agent.submit_escalation(esc("d-1", "critical"))
    client = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    payload = build_decision(
        await client.case(status.id),
        action="approve",
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock(),
    )
    await client.decide(status.id, sign_decision(payload, key))
    backend_env.clock.advance(3600)
    assert sweep_once(backend_env.state) == []
    assert (await agent.escalation(status.id)).decision.action == "approve"  # type: ignore[union-attr]


async def test_sweeper_wakes_a_long_polling_agent(backend_env) -> None:
    """An agent waiting on its case gets the fallback as soon as the sweeper applies it."""
    backend_env.state.notifier.bind(asyncio.get_running_loop())
    agent = backend_env.client(backend_env.agent_token)
    status = await agent.submit_escalation(esc("w-1", "critical"))
    waiting = asyncio.create_task(agent.escalation(status.id, wait=20))
    await asyncio.sleep(0.2)
    backend_env.clock.advance(16 * 60)
    assert await asyncio.to_thread(sweep_once, backend_env.state) == [status.id]
    seen = await asyncio.wait_for(waiting, 10)
    assert seen.status == "fallback"


async def test_sweeper_counts_fallbacks_and_breaches_in_metrics(backend_env) -> None:
    """/metrics counts fallbacks by reason and the SLA breach, and each group's open cases."""
    configure_group(backend_env.state.engine, name="payments", open_case_limit=1)
    agent = backend_env.client(backend_env.agent_token)
    await agent.submit_escalation(esc("m-1", "critical"))
    await agent.submit_escalation(esc("m-2", "low"))  # full: backpressure
    backend_env.clock.advance(15 * 60)
    sweep_once(backend_env.state)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=backend_env.app), base_url="http://hitl.test"
    ) as http:
        body = (await http.get("/metrics")).text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    fallbacks = {k[1]: v for k, v in samples.items() if k[0] == "hitl_fallbacks_total"}
    assert fallbacks == {
        (("domain", "payments"), ("reason", "backpressure"), ("severity", "low")): 1.0,
        (("domain", "payments"), ("reason", "sla"), ("severity", "critical")): 1.0,
    }
    assert (
        samples[("hitl_sla_breaches_total", (("domain", "payments"), ("severity", "critical")))]
        == 1.0
    )
    assert samples[("hitl_group_open_cases", (("group", "payments"),))] == 0.0
    assert samples[("hitl_group_open_case_limit", (("group", "payments"),))] == 1.0


async def test_supervisor_cannot_sign_a_fallback(backend_env) -> None:
    """Fallback is the system's action: a supervisor's signed fallback is refused with 422."""
    status = await backend_env.client(backend_env.agent_token).submit_escalation(esc("f-1"))
    client = backend_env.client()
    key = Ed25519PrivateKey.generate()
    await client.enroll_key(public_key_b64(key.public_key()))
    me = await client.me()
    payload = build_decision(
        await client.case(status.id),
        action="fallback",
        supervisor_id=me.id,
        key=key,
        signed_at=backend_env.clock(),
    )
    with pytest.raises(InvalidRequest) as err:
        await client.decide(status.id, sign_decision(payload, key))
    assert "fallback" in err.value.detail


async def test_enrolling_the_server_key_is_refused(backend_env) -> None:
    """Nobody can enroll the backend's own public key as theirs (it signs fallbacks)."""
    public = public_key_b64(backend_env.state.server_key.public_key())
    with pytest.raises(Conflict) as err:
        await backend_env.client().enroll_key(public)
    assert "backend's own" in err.value.detail


# -- the counters ------------------------------------------------------------------------


def test_open_case_counters_follow_every_status_change(backend_env) -> None:
    """The database keeps each group's open count and each member's load exact, whoever
    changes a case (here plain SQL, as another part of the code might)."""
    for i in range(3):
        backend_env.submit(esc(f"n-{i}"))
    engine = backend_env.state.engine

    def counts() -> tuple[int, int, int]:
        with read_session(engine) as session:
            group = session.get(Group, "payments")
            real = session.scalar(
                select(func.count())
                .select_from(Case)
                .where(col(Case.status) == "open", col(Case.group_name) == "payments")
            )
            load = session.scalar(text("SELECT open_load FROM supervisors WHERE name = 'alice'"))
        assert group is not None and real is not None and load is not None
        assert group.open_cases == real, (
            "the open-case counter drifted: did a migration rebuild `cases` (a SQLite batch "
            "drops its triggers)? Re-create them as the *_lifecycle migration does."
        )
        return group.open_cases, real, load

    assert counts() == (3, 3, 3)
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'decided' WHERE idempotency_key = 'n-0'"))
        conn.execute(text("UPDATE cases SET group_name = 'other' WHERE idempotency_key = 'n-1'"))
        conn.execute(
            text("UPDATE cases SET suggested_assignee_id = NULL WHERE idempotency_key = 'n-2'")
        )
    assert counts() == (1, 1, 1)
    with engine.begin() as conn:
        conn.execute(text("UPDATE cases SET status = 'open' WHERE idempotency_key = 'n-0'"))
        conn.execute(text("DELETE FROM cases WHERE idempotency_key = 'n-2'"))
    assert counts() == (1, 1, 2)
