"""An escalation's outcome in the shapes LangGraph and LangChain agents resume with.

Pure functions, no I/O: an agent that polls ``GET /v1/escalations/{id}`` (or receives the
webhook) turns the :class:`~store.contracts.EscalationStatus` into

- LangGraph's ``HumanResponse`` (``langgraph.prebuilt.interrupt``, the Agent Inbox
  protocol): ``{"type": "accept" | "edit" | "response" | "ignore", "args": ...}`` where
  ``args`` is null, a string, or an ``ActionRequest`` ``{"action": name, "args": {...}}``;
- a LangChain ``HumanInTheLoopMiddleware`` decision (``langchain.agents.middleware``):
  ``{"type": "approve"}``, ``{"type": "edit", "edited_action": {"name", "args"}}``,
  ``{"type": "reject", "message": ...}`` or ``{"type": "respond", "message": ...}``;
  resume the graph with ``{"decisions": [decision]}``.

| hitl outcome | HumanResponse | LangChain decision |
|---|---|---|
| ``proceed`` (the policy let it through) | accept | approve |
| approve | accept | approve |
| approve with edited arguments | edit: the proposed action, edited args | edit |
| override (an alternative or a custom action) | edit: that action | edit |
| fallback (nobody decided in time) | edit: the fallback action | edit |
| reject | response: the rationale | reject, message: the rationale |
| ``blocked`` (the policy refused it) | ignore | reject, message: the reason |
| ``needs_info`` (inputs missing) | response: what is missing | reject, message: what is missing |
| ``open``, ``info_requested`` (no outcome yet) | None | None |

``respond`` is never produced: it means the human answered *as the tool* (an ``ask_user``
tool) and LangChain reports it as the tool's successful result; a supervisor's rejection is
not a result. A post-hoc decision (``post_hoc_decision``) does not change the outcome: the
fallback was applied; map it with :func:`decision_human_response` to show it for review.
While ``info_requested`` the agent answers ``question`` with
``POST /v1/escalations/{id}/info`` and keeps waiting.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from store.contracts import ActionSpec, AgentDecision, EscalationStatus

__all__ = [
    "ActionRequest",
    "EditedAction",
    "HitlDecision",
    "HumanResponse",
    "decision_hitl_decision",
    "decision_human_response",
    "to_hitl_decision",
    "to_human_response",
]


class ActionRequest(TypedDict):
    """LangGraph's ``ActionRequest``: an action by name with its arguments."""

    action: str
    args: dict[str, Any]


class HumanResponse(TypedDict):
    """LangGraph's ``HumanResponse`` (``langgraph.prebuilt.interrupt``)."""

    type: Literal["accept", "ignore", "response", "edit"]
    args: str | ActionRequest | None


class EditedAction(TypedDict):
    """LangChain's ``Action`` in an edit decision."""

    name: str
    args: dict[str, Any]


class HitlDecision(TypedDict):
    """One decision of LangChain's ``HITLResponse`` (``{"decisions": [...]}``)."""

    type: Literal["approve", "edit", "reject", "respond"]
    edited_action: NotRequired[EditedAction]
    message: NotRequired[str]


def _edit_graph(action: ActionSpec) -> HumanResponse:
    return {"type": "edit", "args": {"action": action.name, "args": dict(action.args)}}


def _edit_chain(action: ActionSpec) -> HitlDecision:
    return {"type": "edit", "edited_action": {"name": action.name, "args": dict(action.args)}}


def _rejection(decision: AgentDecision) -> str:
    return decision.rationale or f"rejected by {decision.decided_by}"


def _missing(status: EscalationStatus) -> str:
    inputs = ", ".join(status.missing_inputs) or "the inputs the policy requires"
    return f"Missing inputs: {inputs}. Resubmit with them under a new idempotency key."


def decision_human_response(decision: AgentDecision) -> HumanResponse:
    """A supervisor's (or the fallback's) decision as a LangGraph ``HumanResponse``."""
    if decision.action == "reject" or decision.resolved_action is None:
        return {"type": "response", "args": _rejection(decision)}
    if decision.action == "approve" and not decision.args_edited:
        return {"type": "accept", "args": None}
    return _edit_graph(decision.resolved_action)


def decision_hitl_decision(decision: AgentDecision) -> HitlDecision:
    """A supervisor's (or the fallback's) decision as a LangChain HITL decision."""
    if decision.action == "reject" or decision.resolved_action is None:
        return {"type": "reject", "message": _rejection(decision)}
    if decision.action == "approve" and not decision.args_edited:
        return {"type": "approve"}
    return _edit_chain(decision.resolved_action)


def to_human_response(status: EscalationStatus) -> HumanResponse | None:
    """The escalation's outcome for LangGraph; None while there is none yet."""
    if status.status == "proceed":
        return {"type": "accept", "args": None}
    if status.status == "blocked":
        return {"type": "ignore", "args": None}
    if status.status == "needs_info":
        return {"type": "response", "args": _missing(status)}
    if status.status in ("decided", "fallback") and status.decision is not None:
        return decision_human_response(status.decision)
    if status.status == "fallback" and status.fallback_action is not None:
        return _edit_graph(status.fallback_action)
    return None


def to_hitl_decision(status: EscalationStatus) -> HitlDecision | None:
    """The escalation's outcome for LangChain's HITL middleware; None while there is none."""
    if status.status == "proceed":
        return {"type": "approve"}
    if status.status == "blocked":
        return {"type": "reject", "message": status.reason or "blocked by policy"}
    if status.status == "needs_info":
        return {"type": "reject", "message": _missing(status)}
    if status.status in ("decided", "fallback") and status.decision is not None:
        return decision_hitl_decision(status.decision)
    if status.status == "fallback" and status.fallback_action is not None:
        return _edit_chain(status.fallback_action)
    return None
