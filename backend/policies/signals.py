"""The signals a policy condition reads, and how an escalation becomes them.

Every name here is a CEL variable in a rule's ``when``. Optional signals the agent did not
send are ``null`` (never absent), so a condition can test ``amount != null``; lists are
empty rather than null. Only the variables a policy references are converted for CEL
(converting one costs about a microsecond or two), see :func:`signals_of`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from store.contracts import EscalationCreate

__all__ = ["PROBES", "SIGNALS", "SIGNAL_NAMES", "Signal", "resolve_path", "signals_of"]


@dataclass(frozen=True)
class Signal:
    name: str
    cel_type: str
    description: str
    read: Callable[[EscalationCreate], Any]
    #: What the signal holds when the agent sent nothing, and a typical present value:
    #: ``hitl policy check`` evaluates every condition on both.
    absent: Any
    present: Any


def _calibrated(e: EscalationCreate) -> float | None:
    return e.confidence.calibrated


SIGNALS: tuple[Signal, ...] = (
    Signal("domain", "string", "the escalation's domain", lambda e: e.domain, "", "payments"),
    Signal(
        "action",
        "string",
        "the proposed action's name",
        lambda e: e.proposed_action.name,
        "",
        "refund_payment",
    ),
    Signal(
        "args",
        "map",
        "the proposed action's arguments (test keys with has(args.key))",
        lambda e: e.proposed_action.args,
        {},
        {"currency": "EUR"},
    ),
    Signal(
        "context",
        "map",
        "the context the agent sent (test keys with has(context.key))",
        lambda e: e.context,
        {},
        {"order_id": "ord_1"},
    ),
    Signal(
        "confidence",
        "double",
        "the model's reported confidence, 0 to 1",
        lambda e: e.confidence.reported,
        0.0,
        0.8,
    ),
    Signal(
        "calibrated_confidence",
        "double or null",
        "the calibrated confidence, if the agent calibrates",
        _calibrated,
        None,
        0.7,
    ),
    Signal(
        "effective_confidence",
        "double",
        "calibrated_confidence if present, else confidence",
        lambda e: e.confidence.effective,
        0.0,
        0.7,
    ),
    Signal(
        "amount",
        "double or null",
        "the amount at stake, if any",
        lambda e: e.amount,
        None,
        120.0,
    ),
    Signal(
        "risk_flags",
        "list of strings",
        "risk flags the agent raised",
        lambda e: e.risk_flags,
        [],
        ["high_amount"],
    ),
    Signal(
        "data_quality_flags",
        "list of strings",
        "problems the agent found in its own inputs (stale, partial, unverified...)",
        lambda e: e.data_quality_flags,
        [],
        ["stale_balance"],
    ),
    Signal(
        "missing_inputs",
        "list of strings",
        "inputs the agent needed but could not get",
        lambda e: e.missing_inputs,
        [],
        ["order_id"],
    ),
    Signal("tags", "list of strings", "free-form labels", lambda e: e.tags, [], ["refund"]),
    Signal(
        "latency_budget_ms",
        "int or null",
        "how long the agent can wait for a decision, in milliseconds",
        lambda e: e.latency_budget_ms,
        None,
        600_000,
    ),
    Signal("model", "string", "the model's name", lambda e: e.model.name, "", "refund-agent"),
    Signal(
        "model_version", "string", "the model's version", lambda e: e.model.version, "", "3.4.1"
    ),
    Signal(
        "evidence_count",
        "int",
        "how many evidence items the agent attached",
        lambda e: len(e.evidence),
        0,
        3,
    ),
    Signal(
        "alternative_count",
        "int",
        "how many alternative actions the agent offered",
        lambda e: len(e.alternatives),
        0,
        2,
    ),
    Signal(
        "has_fallback",
        "bool",
        "whether the agent sent its own fallback_action",
        lambda e: e.fallback_action is not None,
        False,
        True,
    ),
)

_BY_NAME: dict[str, Signal] = {s.name: s for s in SIGNALS}
SIGNAL_NAMES: frozenset[str] = frozenset(_BY_NAME)

#: Signal sets ``hitl policy check`` evaluates every condition on: nothing optional sent,
#: and everything sent.
PROBES: dict[str, dict[str, Any]] = {
    "absent": {s.name: s.absent for s in SIGNALS},
    "present": {s.name: s.present for s in SIGNALS},
}


def signals_of(escalation: EscalationCreate, names: Iterable[str]) -> dict[str, Any]:
    """The named signals of ``escalation`` (unknown names are ignored)."""
    return {n: _BY_NAME[n].read(escalation) for n in names if n in _BY_NAME}


def resolve_path(signals: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (``amount``, ``context.order_id``...), or None if absent."""
    head, *rest = path.split(".")
    value = signals.get(head)
    for key in rest:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value
