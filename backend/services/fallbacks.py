"""System decisions: the fallback action, applied by the SLA sweeper or by backpressure.

A system decision is a :class:`~store.tables.Decision` like a supervisor's: a
``DecisionPayload`` (action ``fallback``) signed as a DSSE envelope, here by the backend's
own Ed25519 key (:mod:`backend.serverkey`). That key is enrolled in ``supervisor_keys``
for the ``system`` principal (a supervisors row that can neither log in nor take cases),
with a ``supervisor.key_enrolled`` audit event, so decisions' foreign keys hold and
``hitl audit verify`` checks system decisions offline like any other.

The sweeper claims a case with one conditional UPDATE (``WHERE id = ? AND status IN
('open', 'info_requested') AND due_at <= now``) and goes on only if it changed a row; on
SQLite the write transaction is exclusive, on PostgreSQL a concurrent UPDATE waits for
the row and re-checks the condition. So with any number of backend processes on one
database each case's fallback fires exactly once, and never after a supervisor's decision.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime
from typing import Literal

from sqlalchemy import Integer, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend import events
from backend.state import AppState, SystemSigner
from store import audit
from store.contracts import SEVERITY_RANK, DecisionPayload, new_nonce
from store.db import read_session, write_session
from store.signing import DECISION_PAYLOAD_TYPE, fingerprint, key_id, public_key_b64, sign_envelope
from store.tables import Case, Decision, Supervisor, SupervisorKey

__all__ = [
    "SWEPT_STATUSES",
    "SYSTEM_PRINCIPAL",
    "FallbackReason",
    "SystemSigner",
    "apply_sla_fallback",
    "due_cases",
    "fallback_name",
    "record_fallback",
    "sweep_once",
    "system_signer",
]

log = logging.getLogger(__name__)

#: The supervisors row system decisions are made by. Its role takes no cases and logs in
#: nowhere (``current_supervisor`` admits supervisors and admins only; no token hashes to
#: its ``token_hash``).
SYSTEM_PRINCIPAL = "system"
#: Undecided cases the sweeper applies the fallback to once they pass their due time.
SWEPT_STATUSES = ("open", "info_requested")

FallbackReason = Literal["sla", "backpressure"]


def system_signer(session: Session, state: AppState) -> SystemSigner:
    """The system principal and the server key's enrollment, created on first use.

    Runs in the caller's write transaction. Another process creating them at the same time
    (PostgreSQL) makes this one's insert fail in a savepoint; it then reads theirs.
    """
    cached = state.system_signer
    if cached is not None:
        return cached
    public = state.server_key.public_key()
    kid = key_id(public)
    now = state.clock()
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                signer, created = _ensure_signer(
                    session, kid, public_key_b64(public), fingerprint(public), now
                )
            break
        except IntegrityError:
            if attempt == 2:
                raise
    if not created:  # committed already: safe to remember (a new one may yet roll back)
        state.system_signer = signer
    return signer


def _ensure_signer(
    session: Session, kid: str, public_b64: str, print_: str, now: datetime
) -> tuple[SystemSigner, bool]:
    created = False
    system = session.scalars(
        select(Supervisor).where(Supervisor.name == SYSTEM_PRINCIPAL)  # type: ignore[arg-type]
    ).first()
    if system is None:
        created = True
        system = Supervisor(
            name=SYSTEM_PRINCIPAL,
            role="system",
            groups=[],
            # Not a SHA-256 hex digest: no bearer token can ever match it.
            token_hash=f"!system:{secrets.token_hex(16)}",
            created_at=now,
            availability="away",
        )
        session.add(system)
        session.flush()
        assert system.id is not None
        audit.append_event(
            session,
            kind="supervisor.created",
            actor=SYSTEM_PRINCIPAL,
            ts=now,
            data={
                "supervisor_id": system.id,
                "name": SYSTEM_PRINCIPAL,
                "role": "system",
                "groups": [],
            },
        )
    elif system.role != "system":
        raise RuntimeError(
            f"a supervisor named {SYSTEM_PRINCIPAL!r} (id {system.id}) is not the system "
            "principal; rename it so the backend can sign fallback decisions"
        )
    assert system.id is not None
    key = session.get(SupervisorKey, kid)
    if key is None:
        created = True
        session.add(
            SupervisorKey(
                key_id=kid,
                supervisor_id=system.id,
                public_key=public_b64,
                fingerprint=print_,
                created_at=now,
            )
        )
        session.flush()
        audit.append_event(
            session,
            kind="supervisor.key_enrolled",
            actor=SYSTEM_PRINCIPAL,
            ts=now,
            data={
                "supervisor_id": system.id,
                "supervisor": SYSTEM_PRINCIPAL,
                "key_id": kid,
                "public_key": public_b64,
                "fingerprint": print_,
            },
        )
    elif key.supervisor_id != system.id:
        raise RuntimeError(
            f"the server key {kid} is enrolled for supervisor {key.supervisor_id}, not for "
            "the system principal; revoke that enrollment"
        )
    return SystemSigner(system.id, kid), created


def fallback_name(case: Case) -> str:
    """The name of the case's fallback action, for the words of a rationale."""
    name = case.fallback_action.get("name")
    return name if isinstance(name, str) else "?"


def record_fallback(
    session: Session,
    state: AppState,
    *,
    case: Case,
    now: datetime,
    reason: FallbackReason,
    rationale: str,
) -> Decision:
    """Sign and store the system decision for ``case`` (already set to ``fallback``) and
    its audit event, in the caller's transaction."""
    assert case.id is not None
    signer = system_signer(session, state)
    payload = DecisionPayload(
        case_id=case.id,
        content_digest=case.content_digest,
        action="fallback",
        nonce=new_nonce(),  # set, so it is signed; the system holds no claim to fence
        rationale=rationale,
        supervisor_id=signer.supervisor_id,
        key_id=signer.key_id,
        signed_at=now,
    )
    payload_bytes = payload.to_bytes()
    envelope = sign_envelope(payload_bytes, DECISION_PAYLOAD_TYPE, state.server_key)
    row = Decision(
        id=payload.decision_id,
        case_id=case.id,
        supervisor_id=signer.supervisor_id,
        key_id=signer.key_id,
        action="fallback",
        rationale=rationale,
        resolved_action=case.fallback_action,
        nonce=payload.nonce,
        payload_type=DECISION_PAYLOAD_TYPE,
        payload=payload_bytes,
        signature=envelope.signatures[0].sig,
        decided_at=now,
    )
    session.add(row)
    session.flush()
    audit.append_event(
        session,
        kind="case.fallback_applied",
        actor=SYSTEM_PRINCIPAL,
        case_id=case.id,
        ts=now,
        data={
            "decision_id": row.id,
            "action": "fallback",
            "reason": reason,
            "supervisor_id": signer.supervisor_id,
            "key_id": signer.key_id,
            "resolved_action": case.fallback_action,
            "envelope": json.loads(envelope.model_dump_json()),
        },
    )
    return row


_cases_table: Table = Case.__table__  # type: ignore[attr-defined]
_cases = _cases_table.c
_now = bindparam("now", type_=_cases.due_at.type)
# Walks ix_cases_queue (status, severity_rank, due_at, id): one index range per status and
# severity, most urgent severity first and oldest due time first within it. No sort, so
# a backlog of any size costs one batch of index entries.
_DUE = (
    select(_cases.id)
    .where(_cases.status.in_(SWEPT_STATUSES))
    .where(_cases.severity_rank.in_(sorted(SEVERITY_RANK.values())))
    .where(_cases.due_at <= _now)
    .limit(bindparam("limit", type_=Integer))
)
_CLAIM = (
    update(_cases_table)
    .where(_cases.id == bindparam("case_id", type_=Integer))
    .where(_cases.status.in_(SWEPT_STATUSES))
    .where(_cases.due_at <= _now)
    .values(
        status="fallback",
        updated_at=_now,
        claimed_by_id=None,
        claim_expires_at=None,
    )
)


def due_cases(state: AppState, *, now: datetime, limit: int) -> list[int]:
    """Ids of undecided cases past their due time (at most ``limit``)."""
    with read_session(state.engine) as session:
        return list(
            session.connection().execute(_DUE, {"now": now, "limit": limit}).scalars().all()
        )


def apply_sla_fallback(state: AppState, *, case_id: int, now: datetime) -> Case | None:
    """Apply the fallback to one case past its due time; None if it was no longer due or
    undecided (a supervisor decided it, or another process got there first)."""
    with write_session(state.engine) as session:
        claimed = session.connection().execute(_CLAIM, {"case_id": case_id, "now": now})
        if claimed.rowcount != 1:
            return None
        case = session.get(Case, case_id)
        assert case is not None
        late = int((now - case.due_at).total_seconds())
        rationale = (
            f"No supervisor decided within the SLA (due {case.due_at:%Y-%m-%d %H:%M:%S} UTC"
            + (f", {late} s ago" if late > 0 else "")
            + f"): the fallback action {fallback_name(case)!r} applies"
        )
        record_fallback(session, state, case=case, now=now, reason="sla", rationale=rationale)
    state.notifier.notify(case_id)
    events.fallback_applied(state, case=case, reason="sla")
    return case


def sweep_once(state: AppState, *, limit: int | None = None) -> list[int]:
    """One pass of the SLA sweeper at ``state.clock()``: the ids it applied fallbacks to.

    Tests call this directly to drive the sweeper deterministically (with a FrozenClock).
    """
    now = state.clock()
    fired: list[int] = []
    for case_id in due_cases(state, now=now, limit=limit or state.settings.sla_sweep_batch):
        try:
            if apply_sla_fallback(state, case_id=case_id, now=now) is not None:
                fired.append(case_id)
        except Exception:
            # One bad case must not stop the others; it is retried on the next pass.
            log.exception("could not apply the fallback to case %d", case_id)
    return fired
