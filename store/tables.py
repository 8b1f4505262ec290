"""SQLModel tables. Only classes here have ``table=True``; contracts live in :mod:`store.contracts`.

Datetimes are aware UTC (SQLModel's ``UTCDateTime``: ``timestamptz`` on PostgreSQL, UTC
text on SQLite). Nothing here is SQLite-only: the same schema runs on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

__all__ = [
    "Agent",
    "AuditEvent",
    "AuditHead",
    "Case",
    "CasePlaceholder",
    "Checkpoint",
    "Claim",
    "Decision",
    "Group",
    "PolicyVersion",
    "Supervisor",
    "SupervisorKey",
    "WebhookCursor",
    "WebhookDelivery",
]


class Agent(SQLModel, table=True):
    __tablename__ = "agents"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    # Webhooks: where the agent learns outcomes. The signing secret is not stored: it is
    # derived from the server's webhook key, the agent id and this version (0: none issued;
    # each rotation adds one), so a copy of the database alone cannot forge deliveries.
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_secret_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Which server webhook key the secret was derived from (a fingerprint, not the key).
    webhook_key_id: str | None = Field(default=None, max_length=32)
    webhook_rotated_at: datetime | None = None
    # Per-agent ingest limits; None: the server's HITL_INGEST_RATE / HITL_INGEST_BURST.
    ingest_rate: int | None = None
    ingest_burst: int | None = None


class Supervisor(SQLModel, table=True):
    __tablename__ = "supervisors"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    role: str = Field(max_length=20, default="supervisor")
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime
    #: ``on_call`` or ``away``: routing suggests, and sends cases to, on-call members only.
    availability: str = Field(
        default="on_call", max_length=10, sa_column_kwargs={"server_default": "on_call"}
    )
    #: Open cases suggested to this supervisor. Kept by database triggers on ``cases``
    #: (the ``*_lifecycle`` migration), so it is exact whatever code changes a case;
    #: never written here.
    open_load: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Group(SQLModel, table=True):
    """A supervisor group's routing: its fallback group and open-case limit.

    A row appears for every group that ever had a queued case (the triggers that keep
    ``open_cases`` insert it) and for every group an admin configured. A group without a
    row, or whose row sets nothing, routes as if unconfigured: no fallback, no limit.
    """

    __tablename__ = "groups"

    name: str = Field(primary_key=True, max_length=64)
    #: The domains whose cases this group handles, as documentation for admins (the
    #: policy names the group; this does not route).
    domains: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )
    #: Where cases go when nobody here is on call.
    fallback_group: str | None = Field(default=None, max_length=64)
    #: Beyond this many open cases, new low and medium cases take their fallback at once.
    open_case_limit: int | None = None
    #: Open cases now in this group. Kept by database triggers on ``cases``; never
    #: written by application code except the migration that starts it.
    open_cases: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    updated_at: datetime | None = None


class SupervisorKey(SQLModel, table=True):
    __tablename__ = "supervisor_keys"

    key_id: str = Field(primary_key=True, max_length=64)
    supervisor_id: int = Field(foreign_key="supervisors.id", index=True)
    public_key: str = Field(max_length=64, description="base64 raw Ed25519 public key")
    fingerprint: str = Field(max_length=80)
    created_at: datetime
    revoked_at: datetime | None = None


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("agent_id", "idempotency_key", name="uq_cases_agent_idempotency"),
        # The queue: open cases by severity, then time left (due_at), id breaks ties.
        # Keyset pagination walks these indexes; each filter has its own.
        Index("ix_cases_queue", "status", "severity_rank", "due_at", "id"),
        Index("ix_cases_queue_group", "status", "group_name", "severity_rank", "due_at", "id"),
        Index("ix_cases_queue_domain", "status", "domain", "severity_rank", "due_at", "id"),
        # The queue oldest first (?sort=age).
        Index("ix_cases_queue_age", "status", "created_at", "id"),
        Index("ix_cases_queue_group_age", "status", "group_name", "created_at", "id"),
        # An agent's cases, newest first (related cases): ORDER BY id DESC walks it.
        Index("ix_cases_agent_recent", "agent_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(foreign_key="agents.id")
    idempotency_key: str = Field(max_length=200)
    request_digest: str = Field(max_length=80)
    status: str = Field(max_length=20, default="open")
    severity: str = Field(max_length=10)
    severity_rank: int
    domain: str = Field(max_length=64)
    group_name: str = Field(max_length=64)
    summary: str = Field(max_length=500)
    confidence: float
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    trace_id: str | None = Field(default=None, max_length=64, index=True)
    model_name: str = Field(max_length=200)
    model_version: str = Field(max_length=200)
    model_seed: int | None = None
    policy_id: str = Field(max_length=100)
    policy_version: str = Field(max_length=100)
    policy_hash: str = Field(max_length=80)
    policy_rule: str = Field(max_length=100)
    # The matched rule's description: the reason supervisors and the agent read.
    policy_reason: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})
    content_digest: str = Field(max_length=80)
    # What the supervisor sees, as JSON documents.
    proposed_action: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    fallback_action: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    context: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reasoning: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    evidence: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    alternatives: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    confidence_detail: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    risk_flags: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    amount: float | None = None
    # needs_info: the inputs the agent was asked for.
    missing_inputs: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )
    # The current claim, denormalized from ``claims`` for the queue page.
    claimed_by_id: int | None = Field(default=None, foreign_key="supervisors.id")
    claim_expires_at: datetime | None = None
    claim_token: int = 0
    # The matched policy rule requires a rationale for every final decision.
    rationale_required: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Deferred by a supervisor: out of the queue until then (never past due_at).
    deferred_until: datetime | None = None
    # Questions to the agent and its answers (part of the content, see CaseContent).
    info_exchange: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=text("'[]'")),
    )
    # Routing at ingest: the least-loaded on-call member of the group (name denormalized
    # so the queue page needs no lookup), and, when the policy's group had nobody on
    # call, that group and why the case went elsewhere.
    # No foreign key: SQLite could not drop the column in place on a downgrade; supervisors
    # are never deleted, and the name is kept beside the id.
    suggested_assignee_id: int | None = None
    suggested_assignee: str | None = Field(default=None, max_length=100)
    routed_from: str | None = Field(default=None, max_length=64)
    routing_note: str = Field(default="", max_length=500, sa_column_kwargs={"server_default": ""})


class CasePlaceholder(SQLModel, table=True):
    """A redacted value (its typed placeholder) that a case's content holds, written at
    ingest and when the agent answers a question: "the same e-mail as case 812" is one
    index range, not a scan of every case's JSON."""

    __tablename__ = "case_placeholders"
    __table_args__ = (Index("ix_case_placeholders_value", "placeholder", "case_id"),)

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    placeholder: str = Field(primary_key=True, max_length=40)


class Claim(SQLModel, table=True):
    __tablename__ = "claims"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    supervisor_id: int = Field(foreign_key="supervisors.id")
    token: int
    claimed_at: datetime
    expires_at: datetime
    released_at: datetime | None = None


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"
    # A signed decision's nonce is never accepted twice: a replayed envelope is refused.
    __table_args__ = (UniqueConstraint("nonce", name="uq_decisions_nonce"),)

    id: str = Field(primary_key=True, max_length=64, description="the signed decision_id")
    case_id: int = Field(foreign_key="cases.id", index=True)
    supervisor_id: int = Field(foreign_key="supervisors.id", index=True)
    key_id: str = Field(foreign_key="supervisor_keys.key_id", max_length=64)
    action: str = Field(max_length=20)
    alternative_index: int | None = None
    rationale: str = ""
    resolved_action: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    payload_type: str = Field(max_length=100)
    # The signed bytes, verbatim. Never re-serialized.
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signature: str = Field(max_length=200)
    decided_at: datetime
    # The signed nonce (null only for decisions recorded before nonces existed).
    nonce: str | None = Field(default=None, max_length=64)
    # The fencing token of the claim the decision was made under.
    claim_token: int | None = None
    # Recorded on a case whose fallback was already applied: for review only.
    post_hoc: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class PolicyVersion(SQLModel, table=True):
    """One pushed version of a policy file, immutable once stored; at most one per policy
    id is active."""

    __tablename__ = "policy_versions"
    __table_args__ = (
        UniqueConstraint("policy_id", "version", name="uq_policy_versions_version"),
        UniqueConstraint("policy_id", "content_hash", name="uq_policy_versions_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    policy_id: str = Field(max_length=100)
    version: int
    content_hash: str = Field(max_length=80, description="sha256:<hex> of the file's bytes")
    # The TOML text, verbatim (its UTF-8 bytes hash to content_hash).
    source: str
    filename: str = Field(max_length=255)
    domains: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    author: str = Field(max_length=120)
    created_at: datetime
    active: bool = Field(default=False, index=True)
    activated_at: datetime | None = None


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    ts: datetime
    kind: str = Field(max_length=50)
    case_id: int | None = Field(default=None, index=True)
    actor: str = Field(max_length=120)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    # Canonical JSON of the event, verbatim: its SHA-256 is ``hash``.
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class AuditHead(SQLModel, table=True):
    """One row: the chain's head. Updating it serializes appenders on every database."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(max_length=64)


class Checkpoint(SQLModel, table=True):
    __tablename__ = "audit_checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    size: int
    head: str = Field(max_length=64)
    created_at: datetime
    # The DSSE envelope as JSON text; its payload is base64 of the verbatim signed bytes.
    envelope: str


class WebhookCursor(SQLModel, table=True):
    """One row: the audit seq up to which events have been turned into deliveries."""

    __tablename__ = "webhook_cursor"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0


class WebhookDelivery(SQLModel, table=True):
    """The outbox: one agent-relevant audit event to deliver to one agent's webhook.

    ``state`` is ``pending`` (due at ``next_attempt_at``; while an attempt is in flight,
    that is the end of its lease), ``delivered``, ``dead`` (gave up) or ``cancelled`` (the
    agent's webhook was removed). ``attempts`` counts attempts started and fences results:
    an attempt records its outcome only if the row is still at its attempt and owner.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_seq", "agent_id", name="uq_webhook_deliveries_event_agent"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_seq: int = Field(foreign_key="audit_events.seq")
    agent_id: int = Field(foreign_key="agents.id", index=True)
    case_id: int = Field(foreign_key="cases.id")
    kind: str = Field(max_length=50)
    # The webhook-id header: the same on every retry, so receivers can drop duplicates.
    message_id: str = Field(max_length=64, unique=True)
    # The request body, canonical JSON, built once: every retry sends the same bytes.
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    state: str = Field(max_length=12, default="pending")
    attempts: int = 0
    next_attempt_at: datetime
    lease_owner: str | None = Field(default=None, max_length=100)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None
