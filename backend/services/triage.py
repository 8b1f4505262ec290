"""Which severity, group, SLA and fallback an escalation gets.

This is the seam the policy engine plugs into: anything with ``evaluate`` returning a
:class:`TriageOutcome` will do. :class:`BuiltinTriage` is a small fixed rule set used
until policies are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from store.canonical import json_digest
from store.contracts import ActionSpec, EscalationCreate, PolicyRef, Severity

__all__ = ["DEFAULT_SLA", "BuiltinTriage", "Triage", "TriageOutcome"]

DEFAULT_SLA: dict[Severity, timedelta] = {
    "critical": timedelta(minutes=15),
    "high": timedelta(hours=1),
    "medium": timedelta(hours=4),
    "low": timedelta(hours=24),
}

HIGH_RISK_FLAGS = frozenset({"high_risk", "irreversible", "legal", "safety"})


@dataclass(frozen=True)
class TriageOutcome:
    severity: Severity
    group: str
    sla: timedelta
    fallback: ActionSpec
    policy: PolicyRef


class Triage(Protocol):
    def evaluate(self, escalation: EscalationCreate) -> TriageOutcome: ...


_RULES = (
    ("critical-risk", "a high-risk flag, or an amount of 10,000 or more"),
    ("low-confidence", "effective confidence below 0.5"),
    ("moderate-confidence", "effective confidence below 0.75"),
    ("default", "everything else"),
)


class BuiltinTriage:
    """Severity from risk flags, amount and calibrated confidence; group = domain."""

    policy_id = "builtin"
    policy_version = "1"

    def __init__(self) -> None:
        self._hash = json_digest([list(r) for r in _RULES])

    def _ref(self, rule: str) -> PolicyRef:
        return PolicyRef(id=self.policy_id, version=self.policy_version, hash=self._hash, rule=rule)

    def evaluate(self, escalation: EscalationCreate) -> TriageOutcome:
        confidence = escalation.confidence.effective
        severity: Severity
        if (
            HIGH_RISK_FLAGS.intersection(escalation.risk_flags)
            or (escalation.amount or 0) >= 10_000
        ):
            severity, rule = "critical", "critical-risk"
        elif confidence < 0.5:
            severity, rule = "high", "low-confidence"
        elif confidence < 0.75:
            severity, rule = "medium", "moderate-confidence"
        else:
            severity, rule = "low", "default"
        fallback = escalation.fallback_action or ActionSpec(
            name="hold", args={"reason": "no supervisor decision within the SLA"}
        )
        return TriageOutcome(
            severity=severity,
            group=escalation.domain,
            sla=DEFAULT_SLA[severity],
            fallback=fallback,
            policy=self._ref(rule),
        )
