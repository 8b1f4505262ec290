"""Which outcome an escalation gets: queued (severity, group, SLA, fallback) or not.

This is the seam the policy engine plugs into: anything with ``evaluate`` returning a
:class:`TriageOutcome` will do. :class:`BuiltinTriage` is a small fixed rule set used
until policies are pushed; :class:`backend.services.policy_triage.PolicyTriage` evaluates
the active policies and falls back to it for domains no policy governs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from backend.policies import Outcome
from store.canonical import json_digest
from store.contracts import ActionSpec, EscalationCreate, PolicyRef, Severity

__all__ = ["DEFAULT_SLA", "HOLD", "BuiltinTriage", "Outcome", "Triage", "TriageOutcome"]

DEFAULT_SLA: dict[Severity, timedelta] = {
    "critical": timedelta(minutes=15),
    "high": timedelta(hours=1),
    "medium": timedelta(hours=4),
    "low": timedelta(hours=24),
}

HIGH_RISK_FLAGS = frozenset({"high_risk", "irreversible", "legal", "safety"})


#: The fallback when neither the policy nor the agent names one.
HOLD = ActionSpec(name="hold", args={"reason": "no supervisor decision within the SLA"})


@dataclass(frozen=True)
class TriageOutcome:
    severity: Severity
    group: str
    sla: timedelta
    fallback: ActionSpec
    policy: PolicyRef
    #: ``escalate`` queues a case. ``proceed``, ``block`` and ``needs_info`` answer the agent
    #: at once: the case is recorded and audited, never queued (severity, group and SLA
    #: are then placeholders nobody is shown).
    outcome: Outcome = "escalate"
    #: The matched rule in words: the reason supervisors and the agent read.
    reason: str = ""
    #: needs_info: what the agent is asked to supply.
    missing_inputs: tuple[str, ...] = ()
    #: Supervisors must give a rationale for every final decision on the case.
    require_rationale: bool = False


class Triage(Protocol):
    def evaluate(self, escalation: EscalationCreate) -> TriageOutcome: ...

    def redact_fields(self, domain: str) -> tuple[str, ...]:
        """More fields to redact in ``domain`` before anything is stored (the policy's
        ``[redaction] fields``), on top of ``HITL_REDACT_FIELDS``."""
        ...


_RULES = (
    ("critical-risk", "a high-risk flag, or an amount of 10,000 or more"),
    ("low-confidence", "effective confidence below 0.5"),
    ("moderate-confidence", "effective confidence below 0.75"),
    ("default", "everything else"),
)
_REASONS = {name: text[0].upper() + text[1:] for name, text in _RULES}


class BuiltinTriage:
    """Severity from risk flags, amount and calibrated confidence; group = domain."""

    policy_id = "builtin"
    policy_version = "1"

    def __init__(self) -> None:
        self._hash = json_digest([list(r) for r in _RULES])

    def _ref(self, rule: str) -> PolicyRef:
        return PolicyRef(id=self.policy_id, version=self.policy_version, hash=self._hash, rule=rule)

    def redact_fields(self, domain: str) -> tuple[str, ...]:
        return ()

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
        return TriageOutcome(
            severity=severity,
            group=escalation.domain,
            sla=DEFAULT_SLA[severity],
            fallback=escalation.fallback_action or HOLD,
            policy=self._ref(rule),
            reason=_REASONS[rule],
        )
