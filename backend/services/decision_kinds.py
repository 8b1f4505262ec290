"""What each kind of signed decision does to a case (the rules; ``cases.decide`` writes it).

- approve, override, reject: the case is ``decided``; claim released; ``decision.recorded``.
  On a ``fallback`` case the same decision is recorded post hoc: the case stays
  ``fallback``, flagged for review; ``decision.post_hoc``.
- request_info: the case waits (``info_requested``), the question joins its content; claim
  released; ``case.info_requested``. The agent's answer reopens it (``case.info_answered``).
- reassign: open, in another group (or assigned to a member of its group); claim released;
  ``case.reassigned``.
- raise_severity: open, more severe, due no later than that severity's SLA from now; the
  claim is kept; ``case.severity_raised``.
- defer: open but out of the queue for N minutes (never past its due time); claim released;
  ``case.deferred``.

A decision that changes the case's content (a question, another group, a severity, a due
time) gives it a new content digest, carried in the audit event with the content, so a
decision signed over the old content is refused ("Case changed") and the audit log shows
what the next decision must have signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from backend.policies.document import parse_policy
from backend.problems import ProblemError
from backend.services.triage import DEFAULT_SLA
from store.cases import content_update, post_hoc_decision
from store.contracts import (
    FINAL_ACTIONS,
    SEVERITY_RANK,
    ActionSpec,
    DecisionPayload,
    InfoExchange,
    Severity,
)
from store.groups import group_members, on_call_members
from store.policies import find_policy_version
from store.tables import Case, Supervisor

__all__ = ["Effect", "plan_decision", "sla_for"]

#: Statuses a decision can be made on: open cases, and (post hoc) fallback ones.
DECIDABLE = ("open", "fallback")


@dataclass
class Effect:
    """What a decision does: the case's new column values, the agent's action, the audit."""

    status: str
    audit_kind: str
    values: dict[str, Any] = field(default_factory=dict)
    resolved: ActionSpec | None = None
    post_hoc: bool = False
    #: Extra audit data (the new content and digest when the content changed).
    audit_data: dict[str, Any] = field(default_factory=dict)
    #: Whether the case's claim ends with this decision.
    releases_claim: bool = True


def plan_decision(
    session: Session, case: Case, supervisor: Supervisor, payload: DecisionPayload, now: datetime
) -> Effect:
    """The effect of ``payload`` on ``case`` (open or fallback), or a 4xx saying why not."""
    assert case.id is not None
    if payload.action in FINAL_ACTIONS:
        effect = _final(session, case, payload)
    elif case.status == "fallback":
        raise ProblemError(
            409,
            "Fallback applied",
            f"case {case.id} was settled by its fallback; only approve, override or reject "
            "can still be recorded (post hoc, for review)",
            status_now=case.status,
        )
    elif payload.action == "request_info":
        effect = _request_info(session, case, supervisor, payload, now)
    elif payload.action == "reassign":
        effect = _reassign(session, case, supervisor, payload)
    elif payload.action == "raise_severity":
        effect = _raise_severity(session, case, payload, now)
    elif payload.action == "defer":
        effect = _defer(case, payload, now)
    else:  # a kind only the system makes (fallback)
        raise ProblemError(
            422,
            "Not a supervisor's decision",
            f"{payload.action} is applied by the system; a supervisor signs approve, override, "
            "reject, request_info, reassign, raise_severity or defer",
        )
    if payload.action != "defer":
        effect.values.setdefault("deferred_until", None)
    effect.values["updated_at"] = now
    if effect.releases_claim:
        effect.values |= {"claimed_by_id": None, "claim_expires_at": None}
    return effect


def _final(session: Session, case: Case, payload: DecisionPayload) -> Effect:
    assert case.id is not None
    if case.rationale_required and not payload.rationale.strip():
        raise ProblemError(
            422,
            "Rationale required",
            f"the policy rule {case.policy_rule!r} requires a rationale for every final "
            f"decision on case {case.id}: say why in rationale",
        )
    resolved: ActionSpec | None
    if payload.action == "approve":
        proposed = ActionSpec.model_validate(case.proposed_action)
        resolved = (
            proposed
            if payload.edited_args is None
            else ActionSpec(name=proposed.name, args=payload.edited_args)
        )
    elif payload.action == "override" and payload.custom_action is not None:
        resolved = payload.custom_action
    elif payload.action == "override":
        assert payload.alternative_index is not None
        if payload.alternative_index >= len(case.alternatives):
            raise ProblemError(
                422,
                "No such alternative",
                f"case {case.id} has {len(case.alternatives)} alternatives; "
                f"index {payload.alternative_index} is out of range",
            )
        resolved = ActionSpec.model_validate(case.alternatives[payload.alternative_index]["action"])
    else:
        resolved = None
    data: dict[str, Any] = {}
    if payload.edited_args is not None:
        data["args_edited"] = True
    if payload.custom_action is not None:
        data["custom_action"] = payload.custom_action.model_dump(mode="json")
    if case.status == "fallback":
        if post_hoc_decision(session=session, case_id=case.id) is not None:
            raise ProblemError(
                409,
                "Already reviewed",
                f"case {case.id} already has a post-hoc decision; it is flagged for review",
                status_now=case.status,
            )
        return Effect(
            status="fallback",
            audit_kind="decision.post_hoc",
            resolved=resolved,
            post_hoc=True,
            audit_data=data | {"post_hoc": True},
        )
    return Effect(
        status="decided", audit_kind="decision.recorded", resolved=resolved, audit_data=data
    )


def _request_info(
    session: Session, case: Case, supervisor: Supervisor, payload: DecisionPayload, now: datetime
) -> Effect:
    assert payload.question is not None
    exchange = InfoExchange(
        question=payload.question.strip(), asked_by=supervisor.name, asked_at=now
    )
    values, data = content_update(
        session,
        case,
        {"info_exchange": [*case.info_exchange, exchange.model_dump(mode="json")]},
    )
    return Effect(
        status="info_requested",
        audit_kind="case.info_requested",
        values=values,
        audit_data=data | {"question": exchange.question},
    )


def _reassign(
    session: Session, case: Case, supervisor: Supervisor, payload: DecisionPayload
) -> Effect:
    assert case.id is not None
    if payload.to_group is not None:
        target = payload.to_group
        if target == case.group_name:
            raise ProblemError(422, "Same group", f"case {case.id} is already in group {target!r}")
        if not group_members(session=session, group=target):
            raise ProblemError(
                422,
                "Unknown group",
                f"nobody who can decide cases is in group {target!r}; name a group with "
                "supervisors",
            )
        # Routing's rule for the new group: its least-loaded on-call member is suggested.
        pick = next(iter(on_call_members(session=session, group=target, limit=1)), None)
        values, data = content_update(session, case, {"group_name": target})
        return Effect(
            status="open",
            audit_kind="case.reassigned",
            values=values
            | {
                "suggested_assignee_id": pick.id if pick else None,
                "suggested_assignee": pick.name if pick else None,
                "routing_note": f"reassigned from {case.group_name} by {supervisor.name}",
            },
            audit_data=data | {"from_group": case.group_name, "to_group": target},
        )
    assert payload.to_supervisor is not None
    person = next(
        (
            m
            for m in group_members(session=session, group=case.group_name)
            if m.name == payload.to_supervisor
        ),
        None,
    )
    if person is None:
        raise ProblemError(
            422,
            "Not in the case's group",
            f"{payload.to_supervisor!r} is not a supervisor of group {case.group_name!r}; "
            "reassign to a member, or to another group (to_group)",
        )
    return Effect(
        status="open",
        audit_kind="case.reassigned",
        values={"suggested_assignee_id": person.id, "suggested_assignee": person.name},
        audit_data={
            "from_supervisor": case.suggested_assignee,
            "to_supervisor": person.name,
            "to_supervisor_id": person.id,
        },
    )


def sla_for(session: Session, case: Case, severity: Severity) -> timedelta:
    """How long a case of ``severity`` gets under the case's policy version.

    The policy's ``[defaults] sla`` for that severity, else the builtin default. A rule's
    own ``sla`` is for the rule's severity, so it does not apply to another.
    """
    try:
        version = int(case.policy_version)
    except ValueError:
        version = None
    row = (
        find_policy_version(session=session, policy_id=case.policy_id, version=version)
        if version is not None and case.policy_id != "builtin"
        else None
    )
    if row is not None and row.content_hash == case.policy_hash:
        spec, _ = parse_policy(row.source, source=row.filename)
        if spec is not None and severity in spec.default_sla:
            return spec.default_sla[severity]
    return DEFAULT_SLA[severity]


def _raise_severity(
    session: Session, case: Case, payload: DecisionPayload, now: datetime
) -> Effect:
    assert case.id is not None and payload.severity is not None
    new = payload.severity
    if SEVERITY_RANK[new] >= SEVERITY_RANK[case.severity]:
        higher = [s for s, rank in SEVERITY_RANK.items() if rank < SEVERITY_RANK[case.severity]]
        raise ProblemError(
            422,
            "Not a raise",
            f"case {case.id} is {case.severity}; severity can only be raised"
            + (f" (to {' or '.join(higher)})" if higher else ": it is already critical"),
        )
    due_at = min(case.due_at, now + sla_for(session, case, new))
    values, data = content_update(
        session, case, {"severity": new, "severity_rank": SEVERITY_RANK[new], "due_at": due_at}
    )
    return Effect(
        status="open",
        audit_kind="case.severity_raised",
        values=values,
        audit_data=data
        | {"from_severity": case.severity, "to_severity": new, "due_at": due_at.isoformat()},
        releases_claim=False,
    )


def _defer(case: Case, payload: DecisionPayload, now: datetime) -> Effect:
    assert case.id is not None and payload.defer_minutes is not None
    if case.due_at <= now:
        raise ProblemError(
            422,
            "Past due",
            f"case {case.id} was due at {case.due_at:%H:%M:%S} UTC; it cannot wait any longer",
        )
    until = min(now + timedelta(minutes=payload.defer_minutes), case.due_at)
    return Effect(
        status="open",
        audit_kind="case.deferred",
        values={"deferred_until": until},
        audit_data={"deferred_until": until.isoformat(), "minutes": payload.defer_minutes},
    )
