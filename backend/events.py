"""What the backend reports once a change has committed: metrics, and an event log line.

Event lines go to the ``hitl.events`` logger with the request's trace id (added by the
formatter) and identifiers only: ids, names, domain, group, severity. Never case content.
"""

from __future__ import annotations

import logging

from backend.state import AppState
from store.contracts import DecisionPublic, EscalationStatus
from store.tables import Case

__all__ = ["case_created", "decision_recorded", "fallback_applied"]

log = logging.getLogger("hitl.events")


def case_created(state: AppState, *, agent: str, domain: str, status: EscalationStatus) -> None:
    """A new escalation was stored (queued, or settled by the policy)."""
    outcome = "escalate" if status.status == "open" else status.status
    state.metrics.escalation_ingested(outcome=outcome, domain=domain, severity=status.severity)
    if status.status == "fallback":  # the group was full: backpressure
        state.metrics.fallback_fired(
            domain=domain, severity=status.severity or "none", reason="backpressure"
        )
    if log.isEnabledFor(logging.INFO):
        log.info(
            "case %d created",
            status.id,
            extra={
                "event": "case.created",
                "case_id": status.id,
                "agent": agent,
                "domain": domain,
                "group": status.group,
                "severity": status.severity,
                "status": status.status,
            },
        )


def decision_recorded(state: AppState, *, case: Case, decision: DecisionPublic) -> None:
    """A supervisor's signed decision was committed."""
    state.metrics.decision_recorded(
        supervisor=decision.supervisor,
        action=decision.action,
        domain=case.domain,
        severity=case.severity,
        created_at=case.created_at,
        due_at=case.due_at,
        decided_at=decision.decided_at,
    )
    if log.isEnabledFor(logging.INFO):
        log.info(
            "case %d decided: %s",
            decision.case_id,
            decision.action,
            extra={
                "event": "decision.recorded",
                "case_id": decision.case_id,
                "decision_id": decision.decision_id,
                "action": decision.action,
                "supervisor": decision.supervisor,
                "domain": case.domain,
                "severity": case.severity,
                "late": decision.decided_at > case.due_at,
            },
        )


def fallback_applied(state: AppState, *, case: Case, reason: str) -> None:
    """The system applied a case's fallback action (``reason``: sla or backpressure)."""
    state.metrics.fallback_fired(domain=case.domain, severity=case.severity, reason=reason)
    if reason == "sla":
        state.metrics.sla_breaches.labels(case.domain, case.severity).inc()
    if log.isEnabledFor(logging.INFO):
        log.info(
            "case %d fallback applied (%s)",
            case.id,
            reason,
            extra={
                "event": "case.fallback_applied",
                "case_id": case.id,
                "reason": reason,
                "domain": case.domain,
                "group": case.group_name,
                "severity": case.severity,
            },
        )
