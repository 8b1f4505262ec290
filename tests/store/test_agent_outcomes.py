"""store.agent_outcomes: every escalation outcome in LangGraph's and LangChain's shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from store.agent_outcomes import (
    decision_human_response,
    to_hitl_decision,
    to_human_response,
)
from store.contracts import ActionSpec, AgentDecision, EscalationStatus, PolicyRef

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROPOSED = ActionSpec(name="issue_refund", args={"order": "o-1", "amount": 120.0})
EDITED = ActionSpec(name="issue_refund", args={"order": "o-1", "amount": 60.0})
ALTERNATIVE = ActionSpec(name="offer_voucher", args={"value": 20})
HOLD = ActionSpec(name="hold", args={"reason": "no supervisor decision within the SLA"})


def decision(action: str, resolved: ActionSpec | None, **kw: Any) -> AgentDecision:
    return AgentDecision(
        action=action,  # type: ignore[arg-type]
        resolved_action=resolved,
        rationale=kw.pop("rationale", ""),
        decided_by=kw.pop("by", "alice"),
        decided_at=T,
        **kw,
    )


def status(state: str, outcome: AgentDecision | None = None, **kw: Any) -> EscalationStatus:
    return EscalationStatus(
        id=7,
        idempotency_key="k",
        status=state,  # type: ignore[arg-type]
        decision=outcome,
        fallback_action=HOLD,
        policy=PolicyRef(id="p", version="1", hash="sha256:0", rule="r"),
        **kw,
    )


# (what happened, the status, LangGraph HumanResponse, LangChain HITL decision)
TABLE: list[tuple[str, EscalationStatus, Any, Any]] = [
    (
        "policy proceed",
        status("proceed"),
        {"type": "accept", "args": None},
        {"type": "approve"},
    ),
    (
        "approve",
        status("decided", decision("approve", PROPOSED)),
        {"type": "accept", "args": None},
        {"type": "approve"},
    ),
    (
        "approve with edited args",
        status("decided", decision("approve", EDITED, args_edited=True)),
        {"type": "edit", "args": {"action": "issue_refund", "args": EDITED.args}},
        {"type": "edit", "edited_action": {"name": "issue_refund", "args": EDITED.args}},
    ),
    (
        "override with an alternative or custom action",
        status("decided", decision("override", ALTERNATIVE)),
        {"type": "edit", "args": {"action": "offer_voucher", "args": {"value": 20}}},
        {"type": "edit", "edited_action": {"name": "offer_voucher", "args": {"value": 20}}},
    ),
    (
        "reject",
        status("decided", decision("reject", None, rationale="duplicate of #41")),
        {"type": "response", "args": "duplicate of #41"},
        {"type": "reject", "message": "duplicate of #41"},
    ),
    (
        "fallback applied",
        status("fallback", decision("fallback", HOLD, by="system")),
        {"type": "edit", "args": {"action": "hold", "args": HOLD.args}},
        {"type": "edit", "edited_action": {"name": "hold", "args": HOLD.args}},
    ),
    (
        "fallback status before its decision is readable",
        status("fallback"),
        {"type": "edit", "args": {"action": "hold", "args": HOLD.args}},
        {"type": "edit", "edited_action": {"name": "hold", "args": HOLD.args}},
    ),
    (
        "policy block",
        status("blocked", reason="Open chargeback"),
        {"type": "ignore", "args": None},
        {"type": "reject", "message": "Open chargeback"},
    ),
    (
        "policy needs_info",
        status("needs_info", missing_inputs=["amount", "context.order_id"]),
        {
            "type": "response",
            "args": "Missing inputs: amount, context.order_id. Resubmit with them under a "
            "new idempotency key.",
        },
        {
            "type": "reject",
            "message": "Missing inputs: amount, context.order_id. Resubmit with them under "
            "a new idempotency key.",
        },
    ),
    ("open", status("open"), None, None),
    ("info requested", status("info_requested", question="Insured?"), None, None),
]


@pytest.mark.parametrize(("what", "given", "graph", "chain"), TABLE, ids=[t[0] for t in TABLE])
def test_agent_outcome_maps_to_langgraph_and_langchain(
    what: str, given: EscalationStatus, graph: Any, chain: Any
) -> None:
    """Each outcome an agent can get resumes a LangGraph or LangChain agent the way the
    README's table says; no outcome yet maps to None (keep waiting)."""
    assert to_human_response(given) == graph
    assert to_hitl_decision(given) == chain


def test_agent_outcome_ignores_a_post_hoc_decision() -> None:
    """A post-hoc decision is for review: the outcome stays the fallback's, and the late
    decision can be shown in the same shape."""
    late = decision("reject", None, rationale="should not refund", post_hoc=True)
    given = status(
        "fallback",
        decision("fallback", HOLD, by="system"),
        post_hoc_decision=late,
        flagged_for_review=True,
    )
    assert to_hitl_decision(given) == {
        "type": "edit",
        "edited_action": {"name": "hold", "args": HOLD.args},
    }
    assert decision_human_response(late) == {"type": "response", "args": "should not refund"}
