"""What the backend reports once a change has committed: metrics, and an event log line.

Event lines go to the ``hitl.events`` logger with the request's trace id (added by the
formatter) and identifiers only: ids, names, domain, group, severity. Never case content.
"""

from __future__ import annotations

import logging

from backend.state import AppState
from store.contracts import DecisionPublic, EscalationStatus
from store.tables import Case

__all__ = ["case_created", "decision_recorded"]

log = logging.getLogger("hitl.events")


def case_created(state: AppState, *, agent: str, domain: str, status: EscalationStatus) -> None:
    """A new escalation was stored (queued, or settled by the policy)."""
    outcome = "escalate" if status.status == "open" else status.status
    state.metrics.escalation_ingested(outcome=outcome, domain=domain, severity=status.severity)
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
