"""Every kind of signed decision through the HTTP API: what the supervisor and the agent
see afterwards, every refusal, and an audit log that still verifies.

Every test runs on SQLite and on PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlmodel import col, select

from backend.services.policies import push_policy
from console.decisions import build_decision, sign_decision
from console.errors import Conflict, InvalidRequest, NotFound
from store.audit import verify_export
from store.contracts import (
    ActionSpec,
    CasePublic,
    DecisionPublic,
    Envelope,
    InfoAnswer,
)
from store.db import read_session, write_session
from store.samples import sample_escalation, sample_escalations
from store.signing import public_key_b64
from store.tables import AuditEvent, Case, Decision


class Desk:
    """A supervisor at the console: signs decisions of any kind under a fresh claim."""

    def __init__(self, env: Any, client: Any, me: Any, key: Ed25519PrivateKey) -> None:
        self.env, self.client, self.me, self.key = env, client, me, key

    @classmethod
    async def of(cls, env: Any, token: str | None = None) -> Desk:
        client = env.client(token)
        key = Ed25519PrivateKey.generate()
        await client.enroll_key(public_key_b64(key.public_key()))
        return cls(env, client, await client.me(), key)

    async def signed(self, case_id: int, action: str, **kw: Any) -> Envelope:
        claim = await self.client.claim(case_id)
        case = await self.client.case(case_id)
        payload = build_decision(
            case,
            action=action,  # type: ignore[arg-type]
            supervisor_id=self.me.id,
            key=self.key,
            signed_at=self.env.clock(),
            claim_token=claim.token,
            **kw,
        )
        return sign_decision(payload, self.key)

    async def decide(self, case_id: int, action: str, **kw: Any) -> DecisionPublic:
        return await self.client.decide(case_id, await self.signed(case_id, action, **kw))

    async def case(self, case_id: int) -> CasePublic:
        return await self.client.case(case_id)


def _submit(env: Any, i: int = 0, **changes: Any):
    esc = sample_escalation(i)
    if changes:
        esc = esc.model_copy(update=changes)
    return env.submit(esc)


def _events(env: Any, case_id: int) -> list[tuple[str, dict[str, Any]]]:
    with read_session(env.state.engine) as session:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(col(AuditEvent.seq))
        ).all()
    return [(r.kind, json.loads(bytes(r.body))["data"]) for r in rows]


async def _verified_export(env: Any) -> Any:
    lines = [line async for line in env.client().export_audit()]
    return verify_export(lines)


def _set_status(env: Any, case_id: int, status: str) -> None:
    """What the lifecycle sweeper does when the SLA passes (set directly for these tests)."""
    with write_session(env.state.engine) as session:
        session.connection().execute(
            text("UPDATE cases SET status = :s WHERE id = :i"), {"s": status, "i": case_id}
        )


# -- approve with edited arguments, override with a custom action ----------------------------


async def test_approve_with_edited_args_runs_the_proposal_with_them(backend_env) -> None:
    """Approving with edited arguments tells the agent to run its proposed action with the
    supervisor's arguments; the agent and the audit log both say the arguments were edited."""
    status = _submit(backend_env)
    desk = await Desk.of(backend_env)
    proposed = (await desk.case(status.id)).proposed_action
    edited = {**proposed.args, "amount": 10.0, "note": "partial refund"}
    decision = await desk.decide(status.id, "approve", edited_args=edited)
    assert decision.resolved_action == ActionSpec(name=proposed.name, args=edited)
    assert decision.args_edited
    agent = await backend_env.client(backend_env.agent_token).escalation(status.id)
    assert agent.status == "decided"
    assert agent.decision is not None and agent.decision.args_edited
    assert agent.decision.resolved_action == ActionSpec(name=proposed.name, args=edited)
    recorded = [d for k, d in _events(backend_env, status.id) if k == "decision.recorded"]
    assert recorded[0]["args_edited"] is True
    plain = _submit(backend_env, 1)
    assert not (await desk.decide(plain.id, "approve")).args_edited


async def test_approve_with_edited_args_that_are_not_an_object_is_refused(backend_env) -> None:
    """Edited arguments must be a JSON object of exact numbers: a list, or an integer beyond
    what canonical JSON carries, is 422 naming the field; the case stays open."""
    status = _submit(backend_env)
    desk = await Desk.of(backend_env)
    good = await desk.signed(status.id, "approve", edited_args={"amount": 1})
    body = json.loads(base64.b64decode(good.payload))
    for bad in ([1, 2], {"amount": 2**60}):
        body["edited_args"] = bad
        from store.signing import DECISION_PAYLOAD_TYPE, sign_envelope

        envelope = sign_envelope(json.dumps(body).encode(), DECISION_PAYLOAD_TYPE, desk.key)
        with pytest.raises(InvalidRequest) as err:
            await desk.client.decide(status.id, envelope)
        assert "edited_args" in err.value.detail
    assert (await desk.case(status.id)).status == "open"


async def test_override_with_a_custom_action_needs_a_rationale(backend_env) -> None:
    """An override may name an action of the supervisor's own instead of an alternative; it
    must say why. The agent is told to run that action."""
    status = _submit(backend_env)
    desk = await Desk.of(backend_env)
    own = ActionSpec(name="escalate_to_finance", args={"queue": "refunds-l2"})
    with pytest.raises(Exception, match="custom action needs a rationale"):
        await desk.signed(status.id, "override", custom_action=own)
    with pytest.raises(Exception, match="not both"):
        await desk.signed(
            status.id, "override", custom_action=own, alternative_index=0, rationale="x"
        )
    decision = await desk.decide(
        status.id, "override", custom_action=own, rationale="finance must look at this"
    )
    assert decision.resolved_action == own and decision.action == "override"
    agent = await backend_env.client(backend_env.agent_token).escalation(status.id)
    assert agent.decision is not None and agent.decision.resolved_action == own


async def test_decision_details_of_another_kind_are_refused(backend_env) -> None:
    """A field that belongs to another kind of decision (a question on an approval) is a
    422 that names it, even when signed by hand."""
    status = _submit(backend_env)
    desk = await Desk.of(backend_env)
    good = await desk.signed(status.id, "approve")
    body = json.loads(base64.b64decode(good.payload))
    body["question"] = "why?"
    from store.canonical import canonical_json
    from store.signing import DECISION_PAYLOAD_TYPE, sign_envelope

    with pytest.raises(InvalidRequest) as err:
        await desk.client.decide(
            status.id, sign_envelope(canonical_json(body), DECISION_PAYLOAD_TYPE, desk.key)
        )
    assert "question belongs to a request_info decision" in err.value.detail


# -- request info and the agent's answer -----------------------------------------------------


async def test_request_info_round_trip_with_redaction(backend_env) -> None:
    """A supervisor asks the agent a question: the case waits (out of the queue, unclaimed,
    the agent's long-poll wakes with the question). The agent's answer, personal data
    redacted, joins the case's content; the case is open again with a new digest; a
    decision signed over the old content is "Case changed", and the old request replayed is
    "Replayed decision". Then the case is decided as usual."""
    status = _submit(backend_env)
    desk = await Desk.of(backend_env)
    agent = backend_env.client(backend_env.agent_token)
    before = await desk.case(status.id)
    stale = await desk.signed(status.id, "approve")

    waiting = asyncio.create_task(agent.escalation(status.id, wait=30))
    await asyncio.sleep(0.2)
    asking = await desk.signed(status.id, "request_info", question="Was the parcel insured?")
    asked = await desk.client.decide(status.id, asking)
    assert asked.action == "request_info" and asked.resolved_action is None
    woken = await asyncio.wait_for(waiting, 10)
    assert woken.status == "info_requested"
    assert woken.question == "Was the parcel insured?"
    assert woken.decision is None

    case = await desk.case(status.id)
    assert case.status == "info_requested" and case.claim is None
    assert case.info_exchange[0].question == "Was the parcel insured?"
    assert case.info_exchange[0].asked_by == "alice" and case.info_exchange[0].answer is None
    assert case.content_digest != before.content_digest
    assert status.id not in [i.id for i in (await desk.client.queue()).items]
    with pytest.raises(Conflict) as err:
        await desk.client.claim(status.id)
    assert err.value.title == "Waiting on the agent"

    answered = await agent.answer_info(
        status.id,
        InfoAnswer(
            answer="Yes, insured. Customer: jane.doe@example.com, +44 20 7946 0958",
            context={"insurer": "ParcelSure", "contact": "claims@parcelsure.example"},
        ),
    )
    assert answered.status == "open" and answered.question is None
    case = await desk.case(status.id)
    exchange = case.info_exchange[0]
    assert exchange.answer is not None and exchange.answered_at == backend_env.clock()
    assert "jane.doe@example.com" not in exchange.answer and "⟦email:" in exchange.answer
    assert "7946" not in exchange.answer and "⟦phone:" in exchange.answer
    assert exchange.context["insurer"] == "ParcelSure"
    assert exchange.context["contact"].startswith("⟦email:")
    assert case.status == "open"
    assert status.id in [i.id for i in (await desk.client.queue()).items]

    with pytest.raises(Conflict) as changed:
        await desk.client.decide(status.id, stale)
    assert changed.value.title == "Case changed"
    with pytest.raises(Conflict) as replay:
        await desk.client.decide(status.id, asking)
    assert replay.value.title == "Replayed decision"

    final = await desk.decide(status.id, "approve")
    assert (await desk.case(status.id)).decision == final
    kinds = [k for k, _ in _events(backend_env, status.id)]
    assert kinds.count("case.info_requested") == 1 and kinds.count("case.info_answered") == 1
    report = await _verified_export(backend_env)
    assert report.kinds["case.info_answered"] == 1

    with read_session(backend_env.state.engine) as session:
        stored = json.dumps(session.get(Case, status.id).info_exchange)  # type: ignore[union-attr]
        bodies = b"".join(bytes(e.body) for e in session.exec(select(AuditEvent)).all())
    for original in ("jane.doe@example.com", "7946 0958", "claims@parcelsure.example"):
        assert original not in stored and original.encode() not in bodies


async def test_request_info_needs_a_question(backend_env) -> None:
    """Asking without a question is refused before signing (the payload cannot be built)."""
    status = _submit(backend_env)
    desk = await Desk.of(backend_env)
    with pytest.raises(Exception, match="question to ask the agent"):
        await desk.signed(status.id, "request_info", question="  ")


async def test_info_answer_refusals(backend_env) -> None:
    """An agent can answer only its own case (404 otherwise) and only while a question is
    pending (409 "No question pending"); an empty answer is 422."""
    status = _submit(backend_env)
    agent = backend_env.client(backend_env.agent_token)
    with pytest.raises(Conflict) as err:
        await agent.answer_info(status.id, InfoAnswer(answer="nobody asked"))
    assert err.value.title == "No question pending"
    desk = await Desk.of(backend_env)
    await desk.decide(status.id, "request_info", question="Which warehouse?")
    from backend.services.admin import add_agent

    _, other_token = add_agent(backend_env.state.engine, name="other-bot", domains=["payments"])
    with pytest.raises(NotFound):
        await backend_env.client(other_token).answer_info(status.id, InfoAnswer(answer="x"))
    response = await agent._http.post(f"/v1/escalations/{status.id}/info", json={"answer": ""})
    assert response.status_code == 422
    assert (await agent.escalation(status.id)).status == "info_requested"


# -- reassign --------------------------------------------------------------------------------


async def test_reassign_to_another_group_moves_the_case(backend_env) -> None:
    """Reassigning to another group moves the case there (its content says so: a new
    digest), releases the claim and keeps it open; a supervisor of the old group only no
    longer sees it. The reason is required."""
    status = _submit(backend_env)  # payments
    _, bob = backend_env.add_supervisor("bob", groups=["payments"])
    _, carol = backend_env.add_supervisor("carol", groups=["escalations"])
    desk = await Desk.of(backend_env)
    before = await desk.case(status.id)
    with pytest.raises(Exception, match="reassignment needs a rationale"):
        await desk.signed(status.id, "reassign", to_group="escalations")
    decision = await desk.decide(
        status.id, "reassign", to_group="escalations", rationale="needs a senior look"
    )
    assert decision.action == "reassign"
    case = await backend_env.client(carol).case(status.id)
    assert case.group == "escalations" and case.status == "open" and case.claim is None
    assert case.content_digest != before.content_digest and case.decision is None
    for outside in (bob, backend_env.supervisor_token):  # payments only; alice: no escalations
        with pytest.raises(NotFound):
            await backend_env.client(outside).case(status.id)
    seen = await backend_env.client(carol).queue()
    assert [i.id for i in seen.items] == [status.id]
    event = next(d for k, d in _events(backend_env, status.id) if k == "case.reassigned")
    assert (event["from_group"], event["to_group"]) == ("payments", "escalations")
    await _verified_export(backend_env)


async def test_reassign_to_a_member_of_the_group_makes_them_the_assignee(backend_env) -> None:
    """Reassigning to a supervisor of the case's group makes them its assignee (shown in the
    case and the queue), releases the claim and keeps the case open in its group; the
    content, and so its digest, does not change."""
    status = _submit(backend_env)
    backend_env.add_supervisor("bob", groups=["payments"])
    desk = await Desk.of(backend_env)
    before = await desk.case(status.id)
    await desk.decide(status.id, "reassign", to_supervisor="bob", rationale="bob knows them")
    case = await desk.case(status.id)
    assert case.suggested_assignee == "bob" and case.claim is None and case.status == "open"
    assert case.group == "payments" and case.content_digest == before.content_digest
    item = next(i for i in (await desk.client.queue()).items if i.id == status.id)
    assert item.suggested_assignee == "bob"
    event = next(d for k, d in _events(backend_env, status.id) if k == "case.reassigned")
    assert event["to_supervisor"] == "bob"
    await _verified_export(backend_env)


async def test_reassign_to_a_group_suggests_one_of_its_members(backend_env) -> None:
    """A case reassigned to another group is suggested to that group's least-loaded member
    on call, and says why it is there."""
    status = _submit(backend_env)
    backend_env.add_supervisor("carol", groups=["escalations"])
    desk = await Desk.of(backend_env)
    await desk.decide(status.id, "reassign", to_group="escalations", rationale="senior look")
    with read_session(backend_env.state.engine) as session:
        row = session.get(Case, status.id)
    assert row is not None and row.suggested_assignee == "carol"
    assert row.routing_note == "reassigned from payments by alice"


async def test_reassign_refusals(backend_env) -> None:
    """Reassigning to the case's own group, to a group nobody can work in, or to someone
    who is not a supervisor of the case's group is 422 saying so; the case is unchanged."""
    status = _submit(backend_env)
    backend_env.add_supervisor("vic", groups=["payments"], role="viewer")
    desk = await Desk.of(backend_env)
    for kw, words in (
        ({"to_group": "payments"}, "already in group"),
        ({"to_group": "nobody-here"}, "nobody who can decide"),
        ({"to_supervisor": "vic"}, "not a supervisor of group"),
        ({"to_supervisor": "ghost"}, "not a supervisor of group"),
    ):
        with pytest.raises(InvalidRequest) as err:
            await desk.decide(status.id, "reassign", rationale="r", **kw)
        assert words in err.value.detail
    case = await desk.case(status.id)
    assert case.group == "payments" and case.status == "open"


# -- raise severity --------------------------------------------------------------------------


async def test_raise_severity_moves_the_due_time_up(backend_env) -> None:
    """Raising severity makes the case due within the new severity's SLA from now (15 min
    for critical by default) unless it was due sooner; lowering or keeping it is 422. The
    supervisor keeps the claim."""
    esc = sample_escalation(0).model_copy(
        update={"risk_flags": [], "amount": 20.0, "idempotency_key": "sev-1"}
    )
    esc.confidence.calibrated = 0.95
    status = backend_env.submit(esc)
    assert status.severity == "low"
    desk = await Desk.of(backend_env)
    with pytest.raises(InvalidRequest) as err:
        await desk.decide(status.id, "raise_severity", severity="low")
    assert "can only be raised (to critical or high or medium)" in err.value.detail
    backend_env.clock.advance(60)
    decision = await desk.decide(status.id, "raise_severity", severity="critical")
    assert decision.action == "raise_severity"
    case = await desk.case(status.id)
    assert case.severity == "critical"
    assert case.due_at == backend_env.clock() + timedelta(minutes=15)
    assert case.claim is not None and case.claim.supervisor == "alice"
    first = (await desk.client.queue()).items[0]
    assert first.id == status.id and first.severity == "critical"
    event = next(d for k, d in _events(backend_env, status.id) if k == "case.severity_raised")
    assert (event["from_severity"], event["to_severity"]) == ("low", "critical")


async def test_raise_severity_never_pushes_the_due_time_later(backend_env) -> None:
    """A case already due within the new severity's SLA keeps its due time."""
    esc = sample_escalation(0).model_copy(
        update={"risk_flags": [], "amount": 20.0, "idempotency_key": "sev-2"}
    )
    esc.confidence.calibrated = 0.95
    status = backend_env.submit(esc)  # low: due in 24 h
    backend_env.clock.advance(24 * 3600 - 600)  # 10 minutes left
    desk = await Desk.of(backend_env)
    await desk.decide(status.id, "raise_severity", severity="high")  # high: 1 h
    case = await desk.case(status.id)
    assert case.severity == "high" and case.due_at == status.due_at


async def test_raise_severity_uses_the_policy_sla(backend_env) -> None:
    """Under a pushed policy the new due time follows the policy's [defaults] sla for the
    new severity."""
    policy = """
id = "pay-fast"
domains = ["payments"]
[defaults]
sla = { critical = "5m", low = "2h" }
[[rules]]
name = "default"
description = "everything"
when = "true"
outcome = "escalate"
severity = "low"
"""
    push_policy(backend_env.state.engine, source=policy, filename="p.toml", author="t")
    backend_env.state.triage.refresh(force=True)
    status = _submit(backend_env, 0, idempotency_key="sev-3")
    assert status.policy is not None and status.policy.id == "pay-fast"
    desk = await Desk.of(backend_env)
    await desk.decide(status.id, "raise_severity", severity="critical")
    case = await desk.case(status.id)
    assert case.due_at == backend_env.clock() + timedelta(minutes=5)


# -- defer -----------------------------------------------------------------------------------


async def test_defer_hides_the_case_until_it_is_due_back(backend_env) -> None:
    """Deferring releases the claim and takes the case out of the queue for N minutes (it
    is listed with ?include_deferred=true, with its deferral); then it is back in its place.
    A deferral never outlasts the due time, and needs a reason."""
    status = _submit(backend_env)
    desk = await Desk.of(backend_env)
    with pytest.raises(Exception, match="deferral needs a rationale"):
        await desk.signed(status.id, "defer", defer_minutes=30)
    await desk.decide(status.id, "defer", defer_minutes=30, rationale="waiting on the bank")
    case = await desk.case(status.id)
    assert case.claim is None and case.status == "open"
    assert case.deferred_until == backend_env.clock() + timedelta(minutes=30)
    assert status.id not in [i.id for i in (await desk.client.queue()).items]
    listed = (await desk.client.queue(include_deferred=True)).items
    assert [i.deferred_until for i in listed if i.id == status.id] == [case.deferred_until]
    backend_env.clock.advance(30 * 60)
    back = (await desk.client.queue()).items
    assert status.id in [i.id for i in back]
    assert all(i.deferred_until is None for i in back)

    long = _submit(backend_env, 3)
    due = (await desk.case(long.id)).due_at
    await desk.decide(long.id, "defer", defer_minutes=7 * 24 * 60, rationale="next week")
    assert (await desk.case(long.id)).deferred_until == due


async def test_defer_past_due_is_refused(backend_env) -> None:
    """A case already past its due time cannot be deferred (422)."""
    status = _submit(backend_env)
    backend_env.clock.advance(2 * 24 * 3600)
    desk = await Desk.of(backend_env)
    with pytest.raises(InvalidRequest) as err:
        await desk.decide(status.id, "defer", defer_minutes=5, rationale="later")
    assert err.value.title == "Past due"


# -- rationale required by the policy --------------------------------------------------------


async def test_policy_rule_can_require_a_rationale(backend_env) -> None:
    """A rule with require_rationale = true marks its cases; approving one without saying
    why is 422 naming the rule, with a rationale it goes through."""
    policy = """
id = "pay-why"
domains = ["payments"]
[[rules]]
name = "always-explain"
description = "Every decision says why"
when = "true"
outcome = "escalate"
severity = "high"
require_rationale = true
"""
    push_policy(backend_env.state.engine, source=policy, filename="p.toml", author="t")
    backend_env.state.triage.refresh(force=True)
    status = _submit(backend_env, 0, idempotency_key="why-1")
    desk = await Desk.of(backend_env)
    assert (await desk.case(status.id)).rationale_required
    with pytest.raises(InvalidRequest) as err:
        await desk.decide(status.id, "approve")
    assert err.value.title == "Rationale required" and "always-explain" in err.value.detail
    decision = await desk.decide(status.id, "approve", rationale="matches the order history")
    assert decision.rationale == "matches the order history"
    other = _submit(backend_env, 1)  # moderation: builtin triage, no requirement
    assert not (await desk.case(other.id)).rationale_required


# -- post-hoc decisions after the fallback ---------------------------------------------------


async def test_post_hoc_decision_on_a_fallback_case_is_flagged_for_review(backend_env) -> None:
    """After the SLA fallback settled a case, a supervisor can still record approve,
    override or reject: it is kept as a post-hoc decision, the case stays "fallback" and is
    flagged for review for supervisors and the agent. A second one is 409, and the other
    kinds are refused."""
    status = _submit(backend_env)
    desk = await Desk.of(backend_env)
    _set_status(backend_env, status.id, "fallback")
    with pytest.raises(Conflict) as err:
        await desk.decide(status.id, "defer", defer_minutes=5, rationale="x")
    assert err.value.title == "Already decided"  # no claim on a settled case
    case = await desk.case(status.id)
    payload = build_decision(
        case,
        action="reject",
        rationale="should never have been refunded",
        supervisor_id=desk.me.id,
        key=desk.key,
        signed_at=backend_env.clock(),
    )
    late = await desk.client.decide(status.id, sign_decision(payload, desk.key))
    assert late.post_hoc and late.action == "reject"
    case = await desk.case(status.id)
    assert case.status == "fallback" and case.flagged_for_review
    assert case.post_hoc_decision is not None
    assert case.post_hoc_decision.decision_id == late.decision_id
    assert case.decision is None  # the fallback (the sweeper's decision) is the final one
    agent = await backend_env.client(backend_env.agent_token).escalation(status.id)
    assert agent.status == "fallback" and agent.flagged_for_review
    assert agent.post_hoc_decision is not None and agent.post_hoc_decision.post_hoc
    assert agent.post_hoc_decision.rationale == "should never have been refunded"
    again = build_decision(
        case,
        action="approve",
        supervisor_id=desk.me.id,
        key=desk.key,
        signed_at=backend_env.clock(),
    )
    with pytest.raises(Conflict) as second:
        await desk.client.decide(status.id, sign_decision(again, desk.key))
    assert second.value.title == "Already reviewed"
    step = build_decision(
        case,
        action="defer",
        defer_minutes=5,
        rationale="x",
        supervisor_id=desk.me.id,
        key=desk.key,
        signed_at=backend_env.clock(),
    )
    with pytest.raises(Conflict) as refused:
        await desk.client.decide(status.id, sign_decision(step, desk.key))
    assert refused.value.title == "Fallback applied"
    kinds = [k for k, _ in _events(backend_env, status.id)]
    assert kinds.count("decision.post_hoc") == 1 and "decision.recorded" not in kinds
    report = await _verified_export(backend_env)
    assert report.kinds["decision.post_hoc"] == 1


# -- the record of every kind ----------------------------------------------------------------


async def test_every_kind_is_a_signed_audited_decision(backend_env) -> None:
    """Steps that keep a case going are Decision rows and audit events of their own kind;
    the case's decision is still the final one, and a second final decision is 409. The
    export verifies every signature."""
    esc = next(e for e in sample_escalations(10) if len(e.alternatives) >= 1)
    status = backend_env.submit(esc)
    desk = await Desk.of(backend_env)
    await desk.decide(status.id, "raise_severity", severity="critical")
    await desk.decide(status.id, "defer", defer_minutes=5, rationale="a call at 10")
    await desk.decide(status.id, "request_info", question="Which order?")
    await backend_env.client(backend_env.agent_token).answer_info(
        status.id, InfoAnswer(answer="order 1234")
    )
    assert (await desk.case(status.id)).decision is None
    final = await desk.decide(status.id, "override", alternative_index=0)
    case = await desk.case(status.id)
    assert case.decision == final and case.status == "decided" and case.deferred_until is None
    with pytest.raises(Conflict) as err:
        await desk.decide(status.id, "reject", rationale="no")
    assert err.value.title == "Already decided" and "override" in err.value.detail
    with read_session(backend_env.state.engine) as session:
        actions = [
            r.action
            for r in session.exec(
                select(Decision)
                .where(Decision.case_id == status.id)
                .order_by(col(Decision.decided_at), col(Decision.id))
            ).all()
        ]
    assert sorted(actions) == sorted(["raise_severity", "defer", "request_info", "override"])
    kinds = [k for k, _ in _events(backend_env, status.id)]
    for kind in (
        "case.severity_raised",
        "case.deferred",
        "case.info_requested",
        "case.info_answered",
        "decision.recorded",
    ):
        assert kind in kinds
    report = await _verified_export(backend_env)
    assert report.decisions == 4


async def test_case_without_questions_keeps_its_creation_digest(backend_env) -> None:
    """Cases that never had a question keep the digest they were created with: the signed
    content leaves out an empty info exchange."""
    status = _submit(backend_env)
    case = await backend_env.client().case(status.id)
    assert case.info_exchange == []
    created = next(d for k, d in _events(backend_env, status.id) if k == "case.created")
    assert "info_exchange" not in created["content"]
    assert created["content_digest"] == case.content_digest
