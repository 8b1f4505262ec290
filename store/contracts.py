"""Data contracts shared by the backend (``response_model``), the console (parsing) and agents.

These pydantic models are the only shape the console and the backend agree on. Tables
live in :mod:`store.tables`; nothing here touches the database.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from store.canonical import MAX_SAFE_INTEGER

__all__ = [
    "FINAL_ACTIONS",
    "MAX_DEFER_MINUTES",
    "POLICY_STATUSES",
    "SEVERITIES",
    "SEVERITY_RANK",
    "STEP_ACTIONS",
    "WEBHOOK_EVENT_TYPES",
    "ActionSpec",
    "AgentDecision",
    "Alternative",
    "Availability",
    "AvailabilityUpdate",
    "Breadcrumb",
    "CaseAuditEvent",
    "CaseContent",
    "CasePublic",
    "CaseStatus",
    "ClaimPublic",
    "Confidence",
    "ConfidenceFactor",
    "DecisionAction",
    "DecisionKind",
    "DecisionPayload",
    "DecisionPublic",
    "Envelope",
    "EnvelopeSignature",
    "EscalationCreate",
    "EscalationStatus",
    "EvidenceItem",
    "GroupPublic",
    "InfoAnswer",
    "InfoExchange",
    "JsonObject",
    "KeyEnroll",
    "KeyPublic",
    "ModelInfo",
    "PolicyPush",
    "PolicyPushResult",
    "PolicyRef",
    "PolicyVersionPublic",
    "Problem",
    "QueueChange",
    "QueueChanges",
    "QueueItem",
    "QueuePage",
    "RelatedCase",
    "RelatedCases",
    "RelatedGroup",
    "Relation",
    "Severity",
    "StepAction",
    "SupervisorMe",
    "SystemAction",
    "WebhookEvent",
    "WebhookEventType",
    "new_nonce",
    "utcnow",
]

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low")
#: Queue order: lower rank first.
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}

#: ``open`` and ``decided`` are queued escalations; ``info_requested`` waits on the agent's
#: answer to a supervisor's question; ``fallback``: nobody decided in time (or the group was
#: at its open-case limit), so the system applied the fallback action. The policy settled
#: the others at once (recorded, never queued): ``proceed``, ``blocked``, ``needs_info``.
CaseStatus = Literal[
    "open", "decided", "proceed", "blocked", "needs_info", "info_requested", "fallback"
]
POLICY_STATUSES: tuple[CaseStatus, ...] = ("proceed", "blocked", "needs_info")
#: The decisions that settle what the agent does (and close the case).
DecisionAction = Literal["approve", "override", "reject"]
FINAL_ACTIONS: tuple[DecisionAction, ...] = ("approve", "override", "reject")
#: Signed decisions that keep the case going: a question to the agent, another owner, more
#: urgency, a snooze.
StepAction = Literal["request_info", "reassign", "raise_severity", "defer"]
STEP_ACTIONS: tuple[StepAction, ...] = ("request_info", "reassign", "raise_severity", "defer")
#: The system's own decision (the SLA sweeper, backpressure), signed by the backend's key:
#: never a supervisor's.
SystemAction = Literal["fallback"]
#: Every kind of decision signed: a supervisor's, or the system's fallback.
DecisionKind = Literal[DecisionAction, StepAction, SystemAction]
#: The longest a case can be deferred (it never stays deferred past its due time anyway).
MAX_DEFER_MINUTES = 7 * 24 * 60
#: A supervisor's availability: routing suggests cases to, and sends them to groups with,
#: on-call members only.
Availability = Literal["on_call", "away"]

Score = Annotated[float, Field(ge=0.0, le=1.0)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=10_000)]


def _json_safe(value: Any, path: str = "") -> Any:
    """Refuse what canonical JSON cannot carry, so digests and signatures stay exact."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(
                f"{path or 'value'}: integers beyond ±(2**53 - 1) cannot be represented "
                "exactly in canonical JSON (RFC 8785); send them as strings"
            )
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{path or 'value'}: NaN and Infinity are not JSON")
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            _json_safe(item, f"{path}.{key}" if path else str(key))
        return value
    if isinstance(value, list):
        for n, item in enumerate(value):
            _json_safe(item, f"{path}[{n}]")
        return value
    raise ValueError(f"{path or 'value'}: {type(value).__name__} is not JSON")


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _json_safe(value)
    return result


#: A JSON object whose every number canonical JSON can carry exactly.
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_nonce() -> str:
    """128 random bits, base64url: what makes each signed decision unique."""
    return secrets.token_urlsafe(16)


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ActionSpec(_Contract):
    """An action an agent could take: a name and its arguments."""

    name: ShortText
    args: JsonObject = Field(default_factory=dict)


class Breadcrumb(_Contract):
    """One step of the agent's reasoning or context-gathering."""

    step: ShortText
    detail: Text = ""


class EvidenceItem(_Contract):
    title: ShortText
    content: Text = ""
    source: ShortText = Field(description="Where the evidence came from: a URI, table or tool name")
    policy_refs: list[ShortText] = Field(default_factory=list, max_length=20)


class Alternative(_Contract):
    action: ActionSpec
    rationale: Text = ""


class ConfidenceFactor(_Contract):
    name: ShortText
    score: Score
    weight: Score = 1.0
    detail: Text = ""


class Confidence(_Contract):
    reported: Score = Field(description="The model's own confidence")
    calibrated: Score | None = Field(default=None, description="After calibration, if any")
    interval: tuple[Score, Score] | None = Field(
        default=None, description="A (low, high) interval for the calibrated score"
    )
    factors: list[ConfidenceFactor] = Field(default_factory=list, max_length=50)

    @field_validator("interval")
    @classmethod
    def _ordered(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is not None and v[0] > v[1]:
            raise ValueError("interval must be (low, high) with low <= high")
        return v

    @property
    def effective(self) -> float:
        return self.calibrated if self.calibrated is not None else self.reported


class ModelInfo(_Contract):
    name: ShortText
    version: ShortText
    seed: int | None = None


class PolicyRef(_Contract):
    id: str
    version: str
    hash: str
    rule: str


class EscalationCreate(_Contract):
    """What an agent submits to ``POST /v1/escalations``."""

    idempotency_key: ShortText
    domain: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
    summary: Annotated[str, Field(min_length=1, max_length=500)]
    proposed_action: ActionSpec
    context: JsonObject = Field(default_factory=dict)
    reasoning: list[Breadcrumb] = Field(default_factory=list, max_length=100)
    evidence: list[EvidenceItem] = Field(default_factory=list, max_length=50)
    alternatives: list[Alternative] = Field(default_factory=list, max_length=9)
    confidence: Confidence
    model: ModelInfo
    trace_id: Annotated[str, Field(max_length=64)] | None = None
    risk_flags: list[ShortText] = Field(default_factory=list, max_length=20)
    amount: float | None = Field(default=None, ge=0)
    fallback_action: ActionSpec | None = Field(
        default=None, description="A conservative action to take if nobody decides in time"
    )
    # Signals for the escalation policy (all optional: agents that omit them stay valid).
    data_quality_flags: list[ShortText] = Field(
        default_factory=list,
        max_length=20,
        description="Problems the agent found in its own inputs (stale, partial, unverified)",
    )
    missing_inputs: list[ShortText] = Field(
        default_factory=list, max_length=20, description="Inputs the agent needed but lacked"
    )
    tags: list[ShortText] = Field(default_factory=list, max_length=20)
    latency_budget_ms: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SAFE_INTEGER,
        description="How long the agent can wait for a decision, in milliseconds",
    )


class InfoExchange(_Contract):
    """A supervisor's question to the agent and, once it came, the agent's answer."""

    question: str
    asked_by: str
    asked_at: AwareDatetime
    answer: str | None = None
    context: dict[str, Any] = Field(
        default_factory=dict, description="What the agent added to the case's context"
    )
    answered_at: AwareDatetime | None = None


class InfoAnswer(_Contract):
    """``POST /v1/escalations/{id}/info``: the agent answers the supervisor's question.

    Personal data is redacted before it is stored, as at ingest."""

    answer: Annotated[str, Field(min_length=1, max_length=10_000)]
    context: JsonObject = Field(
        default_factory=dict, description="More context for the supervisor (a JSON object)"
    )


class CaseContent(_Contract):
    """Everything a supervisor is shown about a case; its digest is what a decision signs.

    ``info_exchange`` is left out of the signed form while empty, so cases that never had a
    question keep the digest they were created with.
    """

    id: int
    agent: str
    domain: str
    group: str
    summary: str
    severity: Severity
    due_at: AwareDatetime
    created_at: AwareDatetime
    proposed_action: ActionSpec
    fallback_action: ActionSpec
    context: dict[str, Any]
    reasoning: list[Breadcrumb]
    evidence: list[EvidenceItem]
    alternatives: list[Alternative]
    confidence: Confidence
    model: ModelInfo
    trace_id: str | None
    risk_flags: list[str]
    amount: float | None
    policy: PolicyRef
    info_exchange: list[InfoExchange] = Field(
        default_factory=list, description="Questions to the agent and its answers, oldest first"
    )

    def signed_json(self) -> dict[str, Any]:
        """The JSON whose RFC 8785 digest is the case's content digest."""
        doc = self.model_dump(mode="json", include=set(CaseContent.model_fields))
        if not doc["info_exchange"]:
            del doc["info_exchange"]
        return doc

    def digest(self) -> str:
        from store.canonical import json_digest

        return json_digest(self.signed_json())


class ClaimPublic(_Contract):
    case_id: int
    supervisor_id: int
    supervisor: str
    token: int = Field(description="Fencing token: grows with every new claim on the case")
    expires_at: AwareDatetime


class EnvelopeSignature(_Contract):
    keyid: str
    sig: str


class Envelope(_Contract):
    """A DSSE envelope (field names as the DSSE spec spells them)."""

    payloadType: str
    payload: str
    signatures: list[EnvelopeSignature] = Field(min_length=1)


#: Fields only some kinds of decision carry: which kinds, and what is required.
_KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "alternative_index": ("override",),
    "custom_action": ("override",),
    "edited_args": ("approve",),
    "question": ("request_info",),
    "to_supervisor": ("reassign",),
    "to_group": ("reassign",),
    "severity": ("raise_severity",),
    "defer_minutes": ("defer",),
}
#: Kinds whose rationale is required whatever the policy says.
_RATIONALE_KINDS = {
    "reject": "a rejection",
    "reassign": "a reassignment",
    "defer": "a deferral",
}


class DecisionPayload(_Contract):
    """The bytes a supervisor signs. Names exactly what was decided, about what, by whom.

    ``action`` is the kind of decision: ``approve`` (optionally with ``edited_args``),
    ``override`` (exactly one of ``alternative_index`` or ``custom_action``), ``reject``,
    ``request_info`` (``question``), ``reassign`` (``to_supervisor`` or ``to_group``),
    ``raise_severity`` (``severity``) or ``defer`` (``defer_minutes``). A rationale is
    required for reject, an override with a custom action, reassign and defer, and for
    every final decision where the case's policy rule says so.
    """

    decision_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    case_id: int
    content_digest: str
    action: DecisionKind
    nonce: str = Field(
        default_factory=new_nonce,
        pattern=r"^[A-Za-z0-9_-]{16,64}$",
        description="Random, never reused: the backend refuses a second decision with it "
        "(a replayed envelope)",
    )
    claim_token: int | None = Field(
        default=None,
        ge=0,
        description="The case's fencing token the decision is made under: the signer's "
        "claim's (ClaimPublic.token), or CasePublic.claim_token as shown. The backend "
        "requires it and refuses the decision if the case was claimed again since",
    )
    alternative_index: int | None = Field(default=None, ge=0, le=8)
    custom_action: ActionSpec | None = Field(
        default=None, description="override: an action of the supervisor's own instead"
    )
    edited_args: JsonObject | None = Field(
        default=None, description="approve: run the proposed action with these arguments"
    )
    question: Annotated[str, Field(max_length=2_000)] | None = Field(
        default=None, description="request_info: what the agent is asked"
    )
    to_supervisor: ShortText | None = Field(
        default=None, description="reassign: a supervisor of the case's group, by name"
    )
    to_group: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="reassign: another group"
    )
    severity: Severity | None = Field(
        default=None, description="raise_severity: the new, higher severity"
    )
    defer_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DEFER_MINUTES,
        description="defer: snooze the case this long (never past its due time)",
    )
    rationale: Text = ""
    supervisor_id: int
    key_id: str
    signed_at: AwareDatetime

    @model_validator(mode="after")
    def _consistent(self) -> DecisionPayload:
        action = self.action
        for name, kinds in _KIND_FIELDS.items():
            if getattr(self, name) is not None and action not in kinds:
                if name == "alternative_index":
                    raise ValueError("only an override picks an alternative")
                raise ValueError(f"{name} belongs to a {' or '.join(kinds)} decision, not {action}")
        if action == "override":
            if (self.alternative_index is None) == (self.custom_action is None):
                raise ValueError(
                    "an override names the alternative it picks (alternative_index) "
                    "or gives a custom_action, not both"
                )
            if self.custom_action is not None and not self.rationale.strip():
                raise ValueError("an override with a custom action needs a rationale")
        elif action == "request_info":
            if self.question is None or not self.question.strip():
                raise ValueError("request_info needs the question to ask the agent (question)")
        elif action == "reassign":
            if (self.to_supervisor is None) == (self.to_group is None):
                raise ValueError("a reassignment names to_supervisor or to_group (one of them)")
        elif action == "raise_severity" and self.severity is None:
            raise ValueError("raise_severity names the new severity (severity)")
        elif action == "defer" and self.defer_minutes is None:
            raise ValueError("a deferral says for how long (defer_minutes)")
        if action in _RATIONALE_KINDS and not self.rationale.strip():
            raise ValueError(f"{_RATIONALE_KINDS[action]} needs a rationale")
        return self

    def to_bytes(self) -> bytes:
        """Canonical JSON: the exact bytes that get signed and stored (unset options left out)."""
        from store.canonical import canonical_json

        return canonical_json(self.model_dump(mode="json", exclude_none=True))


class DecisionPublic(_Contract):
    decision_id: str
    case_id: int
    action: DecisionKind | Literal["fallback"]
    alternative_index: int | None
    rationale: str
    resolved_action: ActionSpec | None = Field(
        description="What the agent should do now; null when the proposal is rejected "
        "(and for decisions that do not settle the case)"
    )
    supervisor_id: int
    supervisor: str
    key_id: str
    decided_at: AwareDatetime
    envelope: Envelope
    args_edited: bool = Field(
        default=False, description="approve: the proposed action runs with edited arguments"
    )
    post_hoc: bool = Field(
        default=False,
        description="Recorded after the fallback was applied: flagged for review, it does "
        "not change what happened",
    )


class CasePublic(CaseContent):
    status: CaseStatus
    content_digest: str
    reason: str = Field(
        default="",
        description="Why the policy escalated: the matched rule's description (policy.rule "
        "is its code). Outside the digest: policy.hash and policy.rule already pin it.",
    )
    claim: ClaimPublic | None = None
    claim_token: int = Field(
        default=0,
        description="The case's fencing token: that of its latest claim (0: never claimed). "
        "A decision signs it (DecisionPayload.claim_token)",
    )
    decision: DecisionPublic | None = Field(
        default=None, description="The final decision (approve, override, reject or fallback)"
    )
    rationale_required: bool = Field(
        default=False,
        description="The policy rule requires a rationale for every final decision",
    )
    deferred_until: AwareDatetime | None = Field(
        default=None, description="Deferred: left out of the queue until then"
    )
    post_hoc_decision: DecisionPublic | None = Field(
        default=None, description="A supervisor's decision recorded after the fallback"
    )
    flagged_for_review: bool = Field(
        default=False,
        description="A post-hoc decision was recorded on a case the fallback settled",
    )
    suggested_assignee: str | None = Field(
        default=None,
        description="The least-loaded on-call member of the group when the case arrived",
    )
    routed_from: str | None = Field(
        default=None,
        description="The group the policy named, when nobody there was on call and the case "
        "went to its fallback group",
    )
    routing: str = Field(default="", description="Why the case is in this group, if not obvious")


class QueueItem(_Contract):
    id: int
    severity: Severity
    domain: str
    group: str
    summary: str
    due_at: AwareDatetime
    created_at: AwareDatetime
    confidence: float
    claimed_by: str | None = None
    deferred_until: AwareDatetime | None = Field(
        default=None, description="Only with ?include_deferred=true: deferred until then"
    )
    suggested_assignee: str | None = None


class QueuePage(_Contract):
    items: list[QueueItem]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class QueueChange(_Contract):
    """One change to a case in the reader's groups, in audit log order."""

    seq: int = Field(description="The audit event's sequence number")
    case_id: int
    kind: str = Field(description="The audit event kind, e.g. case.created, decision.recorded")
    status: CaseStatus = Field(description="The case's status now (not at the event)")
    group: str


class QueueChanges(_Contract):
    """``GET /v1/queue/changes``: what changed after ``after``, oldest first."""

    cursor: int = Field(description="Pass as ?after= to get the changes after these")
    changes: list[QueueChange]
    more: bool = Field(
        description="More changes are waiting: ask again at once (or reload the queue page)"
    )


class AgentDecision(_Contract):
    action: DecisionAction | Literal["fallback"]
    resolved_action: ActionSpec | None
    rationale: str
    decided_by: str
    decided_at: AwareDatetime
    args_edited: bool = Field(
        default=False, description="Approved with edited arguments (resolved_action has them)"
    )
    post_hoc: bool = Field(
        default=False, description="Recorded after the fallback: for review, not to act on"
    )


class EscalationStatus(_Contract):
    """What an agent sees of its escalation."""

    id: int
    idempotency_key: str
    status: CaseStatus = Field(
        description="open or decided: a supervisor's case. info_requested: a supervisor "
        "asks a question (answer it: POST /v1/escalations/{id}/info). fallback: nobody "
        "decided in time; the fallback action applies. proceed: go ahead without one; "
        "blocked: do not take the action; needs_info: resubmit (with a new idempotency key) "
        "with missing_inputs supplied"
    )
    severity: Severity | None = Field(default=None, description="null unless queued")
    group: str | None = Field(default=None, description="null unless queued")
    due_at: AwareDatetime | None = Field(default=None, description="null unless queued")
    fallback_action: ActionSpec | None = Field(default=None, description="null unless queued")
    decision: AgentDecision | None = None
    policy: PolicyRef | None = Field(
        default=None, description="The policy version and rule that decided the outcome"
    )
    reason: str = Field(
        default="",
        description="The matched rule's description; for status fallback, why the fallback "
        "action was applied (the SLA passed, or the group was at its open-case limit)",
    )
    missing_inputs: list[str] = Field(
        default_factory=list, description="needs_info: the inputs to supply"
    )
    question: str | None = Field(
        default=None,
        description="info_requested: the supervisor's question; answer it with "
        "POST /v1/escalations/{id}/info",
    )
    post_hoc_decision: AgentDecision | None = Field(
        default=None,
        description="fallback: a supervisor's decision recorded afterwards, for review",
    )
    flagged_for_review: bool = Field(
        default=False, description="A supervisor disagreed after the fallback was applied"
    )


#: The audit events an agent is told about by webhook: its case's outcome changed.
WebhookEventType = Literal[
    "decision.recorded", "decision.post_hoc", "case.fallback_applied", "case.info_requested"
]
WEBHOOK_EVENT_TYPES: tuple[WebhookEventType, ...] = (
    "decision.recorded",
    "decision.post_hoc",
    "case.fallback_applied",
    "case.info_requested",
)


class WebhookEvent(_Contract):
    """The body of a webhook delivery (canonical JSON, signed per Standard Webhooks)."""

    type: WebhookEventType = Field(description="What happened: the audit event's kind")
    timestamp: AwareDatetime = Field(description="When it happened (not when it was sent)")
    seq: int = Field(description="The audit event's sequence number: orders an agent's events")
    data: EscalationStatus = Field(
        description="The escalation as GET /v1/escalations/{id} showed it when the delivery "
        "was queued"
    )


class KeyEnroll(_Contract):
    public_key: str = Field(description="Base64 of the raw 32-byte Ed25519 public key")


class KeyPublic(_Contract):
    key_id: str
    fingerprint: str
    public_key: str
    created_at: AwareDatetime


class SupervisorMe(_Contract):
    id: int
    name: str
    role: str
    groups: list[str]
    keys: list[KeyPublic]
    availability: Availability = "on_call"


class AvailabilityUpdate(_Contract):
    """``PUT /v1/me/availability``: a supervisor goes on call or away."""

    availability: Availability


class GroupPublic(_Contract):
    """A supervisor group's routing, as admins configure it (`hitl admin group set`)."""

    name: str
    domains: list[str] = Field(default_factory=list)
    fallback_group: str | None = Field(
        default=None, description="Where new cases go when nobody here is on call"
    )
    open_case_limit: int | None = Field(
        default=None,
        description="At this many open cases, new low and medium cases take their fallback "
        "action at once; null: no limit",
    )
    open_cases: int = Field(description="Open cases in the group now")
    on_call: list[str] = Field(
        default_factory=list, description="Members on call (supervisors and admins)"
    )
    away: list[str] = Field(default_factory=list, description="Members away")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str = ""
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class CaseAuditEvent(_Contract):
    """One audit event of a case as the chain holds it: ``hash`` is the SHA-256 of the
    event's canonical JSON (every member here but ``hash``), ``prev`` the event before it
    in the whole log."""

    v: int
    seq: int
    prev: str
    hash: str
    ts: datetime
    kind: str
    actor: str
    case_id: int
    data: dict[str, Any]


class PolicyVersionPublic(_Contract):
    """A stored policy version; ``source`` (the TOML verbatim) only when one is asked for."""

    policy_id: str
    version: int
    content_hash: str
    filename: str
    domains: list[str]
    author: str
    created_at: datetime
    active: bool
    activated_at: datetime | None = None
    source: str | None = None


class PolicyPush(_Contract):
    """``POST /v1/policies``: a policy file to check, store and activate."""

    source: str = Field(max_length=1_000_000, description="The TOML text, verbatim")
    filename: str = Field(default="policy.toml", max_length=255)


class PolicyPushResult(_Contract):
    version: PolicyVersionPublic
    #: False when the same content was stored before (no new version).
    created: bool
    #: False when it was already the active version (nothing changed).
    activated: bool
    previous_version: int | None = None


Relation = Literal["agent", "trace", "placeholder"]


class RelatedCase(_Contract):
    """A case related to another: enough to recognise it and open it."""

    id: int
    status: CaseStatus
    severity: Severity
    domain: str
    group: str
    agent: str
    summary: str
    created_at: AwareDatetime


class RelatedGroup(_Contract):
    """Cases that share one thing with the case asked about, newest first."""

    relation: Relation = Field(
        description="agent: the same agent; trace: the same trace id; placeholder: the "
        "same redacted value (the same e-mail, card, IBAN... in both cases)"
    )
    value: str = Field(description="The agent's name, the trace id or the typed placeholder")
    cases: list[RelatedCase]
    more: bool = Field(description="More of your cases share it than are listed")


class RelatedCases(_Contract):
    """``GET /v1/cases/{id}/related``: only cases in the reader's groups are listed."""

    case_id: int
    groups: list[RelatedGroup] = Field(
        description="The trace first, then one group per shared placeholder, then the "
        "agent; a relation with no visible case is left out"
    )
