"""Agent-side rules: ingest with idempotency, the agent's view of a case, long-polling."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.problems import ProblemError
from backend.services.fallbacks import fallback_name, record_fallback
from backend.services.redaction import RedactionError, redact_escalation, redact_info_answer
from backend.services.routing import Route, over_limit, route
from backend.services.triage import TriageOutcome
from backend.state import AppState
from store import audit
from store.canonical import canonical_json, json_digest, sha256_hex
from store.cases import (
    case_by_idempotency_key,
    case_content,
    content_update,
    fenced_case_update,
    latest_decision,
    post_hoc_decision,
)
from store.contracts import (
    POLICY_STATUSES,
    SEVERITY_RANK,
    ActionSpec,
    AgentDecision,
    CaseStatus,
    EscalationCreate,
    EscalationStatus,
    InfoAnswer,
    InfoExchange,
    PolicyRef,
)
from store.db import read_session, write_session
from store.related import index_placeholders
from store.tables import Agent, Case, Decision, Supervisor

__all__ = ["agent_view", "escalation_status", "submit_escalation", "wait_for_decision"]


def submit_escalation(
    state: AppState, *, agent: Agent, escalation: EscalationCreate, trace_id: str | None = None
) -> tuple[EscalationStatus, bool]:
    """Store a new case (or find the one with this idempotency key). Returns (status, created).

    Personal data is redacted first: nothing below sees it, not even the idempotency
    digest. ``trace_id`` (the request's W3C trace) goes on the case if the body has none.
    """
    if agent.domains and escalation.domain not in agent.domains:
        raise ProblemError(
            403,
            "Domain not allowed",
            f"agent {agent.name!r} may escalate in {', '.join(agent.domains)}, "
            f"not {escalation.domain!r}",
        )
    escalation = _redacted(state, escalation)
    request_digest = json_digest(escalation.model_dump(mode="json"))
    if escalation.trace_id is None and trace_id is not None:
        escalation = escalation.model_copy(update={"trace_id": trace_id})
    assert agent.id is not None
    # Before the write transaction: policy evaluation (and its occasional reload) never
    # holds the write lock.
    outcome = state.triage.evaluate(escalation)
    try:
        with write_session(state.engine) as session:
            existing = case_by_idempotency_key(
                session=session, agent_id=agent.id, key=escalation.idempotency_key
            )
            if existing is not None:
                return _replay(session, existing, request_digest), False
            case = _create_case(
                state,
                session,
                agent=agent,
                escalation=escalation,
                request_digest=request_digest,
                outcome=outcome,
            )
            return _status(session, case), True
    except IntegrityError:
        # A concurrent request with the same key won the race (PostgreSQL); answer like a replay.
        with read_session(state.engine) as session:
            existing = case_by_idempotency_key(
                session=session, agent_id=agent.id, key=escalation.idempotency_key
            )
            if existing is None:
                raise
            return _replay(session, existing, request_digest), False


def _redacted(state: AppState, escalation: EscalationCreate) -> EscalationCreate:
    try:
        # The settings' fields, and those the policy governing the domain names.
        fields = (*state.settings.redact_fields, *state.triage.redact_fields(escalation.domain))
        return redact_escalation(escalation, key=state.redaction_key, fields=fields)
    except RedactionError as exc:
        raise ProblemError(422, "Too long once redacted", str(exc)) from None


def _replay(session: Session, case: Case, request_digest: str) -> EscalationStatus:
    if case.request_digest != request_digest:
        raise ProblemError(
            409,
            "Idempotency key reused",
            f"idempotency key {case.idempotency_key!r} was used for case {case.id} with a "
            "different body; use a new key for a new escalation",
            case_id=case.id,
        )
    return _status(session, case)


def _create_case(
    state: AppState,
    session: Session,
    *,
    agent: Agent,
    escalation: EscalationCreate,
    request_digest: str,
    outcome: TriageOutcome,
) -> Case:
    now = state.clock()
    assert agent.id is not None
    status = _STATUS_OF_OUTCOME[outcome.outcome]
    routed: Route | None = None
    full = None
    group = outcome.group
    if status == "open":
        routed = route(session=session, group=outcome.group)
        group = routed.group
        full = over_limit(session=session, group=group, severity=outcome.severity)
        if full is not None:
            status = "fallback"
    suggested = routed if routed is not None and full is None else None
    case = Case(
        agent_id=agent.id,
        idempotency_key=escalation.idempotency_key,
        request_digest=request_digest,
        status=status,
        severity=outcome.severity,
        severity_rank=SEVERITY_RANK[outcome.severity],
        domain=escalation.domain,
        group_name=group,
        summary=escalation.summary,
        confidence=escalation.confidence.effective,
        due_at=now + outcome.sla,
        created_at=now,
        updated_at=now,
        trace_id=escalation.trace_id,
        model_name=escalation.model.name,
        model_version=escalation.model.version,
        model_seed=escalation.model.seed,
        policy_id=outcome.policy.id,
        policy_version=outcome.policy.version,
        policy_hash=outcome.policy.hash,
        policy_rule=outcome.policy.rule,
        policy_reason=outcome.reason[:500],
        content_digest="",
        proposed_action=escalation.proposed_action.model_dump(mode="json"),
        fallback_action=outcome.fallback.model_dump(mode="json"),
        context=escalation.context,
        reasoning=[b.model_dump(mode="json") for b in escalation.reasoning],
        evidence=[e.model_dump(mode="json") for e in escalation.evidence],
        alternatives=[a.model_dump(mode="json") for a in escalation.alternatives],
        confidence_detail=escalation.confidence.model_dump(mode="json"),
        risk_flags=escalation.risk_flags,
        amount=escalation.amount,
        missing_inputs=list(outcome.missing_inputs),
        rationale_required=outcome.require_rationale,
        suggested_assignee_id=suggested.assignee_id if suggested else None,
        suggested_assignee=suggested.assignee if suggested else None,
        routed_from=routed.routed_from if routed else None,
        routing_note=routed.note[:500] if routed else "",
    )
    session.add(case)
    session.flush()  # assigns the id, which is part of the content
    content = case_content(case, agent_name=agent.name).signed_json()
    canonical = canonical_json(content)
    case.content_digest = "sha256:" + sha256_hex(canonical)
    assert case.id is not None
    # Redacted values it shares with other cases: related cases find it by them.
    index_placeholders(session, case_id=case.id, text=canonical.decode())
    data = {
        "content": content,
        "content_digest": case.content_digest,
        "idempotency_key": case.idempotency_key,
        "reason": case.policy_reason,
    }
    queued = outcome.outcome == "escalate"
    if not queued:  # settled by the policy: recorded, never queued
        data |= {"outcome": outcome.outcome, "missing_inputs": case.missing_inputs}
    elif case.suggested_assignee is not None:
        data["suggested_assignee"] = case.suggested_assignee
    audit.append_event(
        session,
        kind="case.created" if queued else "case.settled_by_policy",
        actor=f"agent:{agent.name}",
        case_id=case.id,
        ts=now,
        data=data,
    )
    if routed is not None and routed.routed_from is not None:
        audit.append_event(
            session,
            kind="case.routed",
            actor="system",
            case_id=case.id,
            ts=now,
            data={
                "from": routed.routed_from,
                "to": routed.group,
                "tried": list(routed.tried),
                "reason": routed.note,
            },
        )
    if full is not None:
        rationale = (
            f"Group {full.name} has {full.open_cases} open cases, at its limit of "
            f"{full.open_case_limit}: a {case.severity} case takes its fallback action "
            f"{fallback_name(case)!r} at once (high and critical cases are always "
            "queued)"
        )
        record_fallback(
            session, state, case=case, now=now, reason="backpressure", rationale=rationale
        )
    return case


_STATUS_OF_OUTCOME: dict[str, CaseStatus] = {
    "escalate": "open",
    "proceed": "proceed",
    "block": "blocked",
    "needs_info": "needs_info",
}


def _agent_decision(session: Session, row: Decision) -> AgentDecision:
    supervisor = session.get(Supervisor, row.supervisor_id)
    return AgentDecision(
        action=row.action,  # type: ignore[arg-type]
        resolved_action=ActionSpec.model_validate(row.resolved_action)
        if row.resolved_action is not None
        else None,
        rationale=row.rationale,
        decided_by=supervisor.name if supervisor else f"supervisor:{row.supervisor_id}",
        decided_at=row.decided_at,
        args_edited=row.action == "approve" and b'"edited_args":' in row.payload,
        post_hoc=row.post_hoc,
    )


def _status(session: Session, case: Case) -> EscalationStatus:
    assert case.id is not None
    decision = review = None
    reason = case.policy_reason
    settled = case.status in POLICY_STATUSES
    if case.status in ("decided", "fallback"):
        row = latest_decision(session=session, case_id=case.id)
        if row is not None:
            decision = _agent_decision(session, row)
            if row.action == "fallback":
                reason = row.rationale  # why the system stepped in
    if case.status == "fallback":
        late = post_hoc_decision(session=session, case_id=case.id)
        review = _agent_decision(session, late) if late is not None else None
    pending = case.info_exchange[-1] if case.status == "info_requested" else None
    return EscalationStatus(
        id=case.id,
        idempotency_key=case.idempotency_key,
        status=case.status,  # type: ignore[arg-type]
        severity=None if settled else case.severity,  # type: ignore[arg-type]
        group=None if settled else case.group_name,
        due_at=None if settled else case.due_at,
        fallback_action=None if settled else ActionSpec.model_validate(case.fallback_action),
        decision=decision,
        policy=PolicyRef(
            id=case.policy_id,
            version=case.policy_version,
            hash=case.policy_hash,
            rule=case.policy_rule,
        ),
        reason=reason,
        missing_inputs=case.missing_inputs,
        question=pending["question"] if pending else None,
        post_hoc_decision=review,
        flagged_for_review=review is not None,
    )


def agent_view(session: Session, case: Case) -> EscalationStatus:
    """The agent's view of ``case``, as GET /v1/escalations/{id} answers (webhooks send it)."""
    return _status(session, case)


def escalation_status(state: AppState, *, agent: Agent, case_id: int) -> EscalationStatus:
    with read_session(state.engine) as session:
        case = session.get(Case, case_id)
        if case is None or case.agent_id != agent.id:
            raise ProblemError(404, "Not found", f"you have no escalation {case_id}")
        return _status(session, case)


async def wait_for_decision(
    state: AppState, *, agent: Agent, case_id: int, wait: float
) -> EscalationStatus:
    """Long-poll: return as soon as the case is decided, or after ``wait`` seconds."""
    from starlette.concurrency import run_in_threadpool

    wait = min(max(wait, 0.0), state.settings.max_wait_seconds)
    deadline = time.monotonic() + wait
    while True:
        status = await run_in_threadpool(escalation_status, state, agent=agent, case_id=case_id)
        remaining = deadline - time.monotonic()
        if status.status != "open" or remaining <= 0:
            return status
        # Woken at once by a decision in this process; re-check every second for others.
        await state.notifier.wait(case_id, min(1.0, remaining))
        await asyncio.sleep(0)


def answer_info(
    state: AppState, *, agent: Agent, case_id: int, answer: InfoAnswer
) -> EscalationStatus:
    """The agent answers the supervisor's question: the case reopens with the answer.

    The answer and its context are redacted like an escalation before they are stored. The
    answer becomes part of the case's content (a new digest: decisions signed over the
    content before it are refused), and the case is back in the queue, unclaimed.
    """
    now = state.clock()
    with write_session(state.engine) as session:
        case = session.get(Case, case_id, with_for_update=True)
        if case is None or case.agent_id != agent.id:
            raise ProblemError(404, "Not found", f"you have no escalation {case_id}")
        assert case.id is not None
        try:
            # As at ingest: the settings' fields and those the domain's policy names.
            fields = (*state.settings.redact_fields, *state.triage.redact_fields(case.domain))
            answer = redact_info_answer(answer, key=state.redaction_key, fields=fields)
        except RedactionError as exc:
            raise ProblemError(422, "Too long once redacted", str(exc)) from None
        if case.status != "info_requested" or not case.info_exchange:
            raise ProblemError(
                409,
                "No question pending",
                f"escalation {case_id} is {case.status}: nobody is waiting for an answer",
                status_now=case.status,
            )
        asked = InfoExchange.model_validate(case.info_exchange[-1])
        answered = asked.model_copy(
            update={"answer": answer.answer, "context": answer.context, "answered_at": now}
        )
        exchanges = [*case.info_exchange[:-1], answered.model_dump(mode="json")]
        values, data = content_update(session, case, {"info_exchange": exchanges})
        updated = fenced_case_update(
            session=session,
            case=case,
            status="info_requested",
            claim_token=case.claim_token,
            holder_id=-1,
            now=now,
            values={"status": "open", "updated_at": now, **values},
        )
        assert updated, "the case row is locked and unclaimed while a question is pending"
        index_placeholders(session, case_id=case.id, text=answer.model_dump_json())
        audit.append_event(
            session,
            kind="case.info_answered",
            actor=f"agent:{agent.name}",
            case_id=case.id,
            ts=now,
            data=data | {"question": asked.question},
        )
        status = _status(session, case)
    state.notifier.notify(case_id)
    return status
