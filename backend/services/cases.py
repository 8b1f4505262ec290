"""Supervisor-side rules: who may see a case, claims, and signed decisions."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from backend import events
from backend.problems import ProblemError
from backend.services.decision_kinds import DECIDABLE, plan_decision
from backend.state import AppState
from store import audit
from store.cases import (
    QueueCursor,
    QueueFilter,
    QueueSort,
    case_content,
    decision_replayed,
    fenced_case_update,
    latest_decision,
    post_hoc_decision,
    queue_items_by_id,
    queue_page,
)
from store.contracts import (
    ActionSpec,
    CasePublic,
    ClaimPublic,
    DecisionPayload,
    DecisionPublic,
    Envelope,
    EnvelopeSignature,
    QueuePage,
    Severity,
)
from store.db import read_session, write_session
from store.signing import (
    DECISION_PAYLOAD_TYPE,
    SignatureError,
    envelope_payload,
    load_public_key,
    verify_envelope,
)
from store.tables import Agent, Case, Claim, Decision, Supervisor, SupervisorKey

__all__ = [
    "claim_case",
    "decide",
    "get_case",
    "get_queue",
    "load_visible",
    "release_claim",
    "visible_groups",
]


def visible_groups(supervisor: Supervisor) -> list[str] | None:
    """None means every group (admins); otherwise the supervisor's own groups."""
    return None if supervisor.role == "admin" else list(supervisor.groups)


def _load_visible(
    session: Session, supervisor: Supervisor, case_id: int, *, for_update: bool = False
) -> Case:
    # In write paths the row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
    # BEGIN IMMEDIATE already serializes writers), so two decisions cannot both see "open".
    case = session.get(Case, case_id, with_for_update=for_update)
    groups = visible_groups(supervisor)
    # Outside the supervisor's groups a case does not exist for them: 404, not 403.
    if case is None or (groups is not None and case.group_name not in groups):
        raise ProblemError(404, "Not found", f"no case {case_id} in your groups")
    return case


def load_visible(session: Session, supervisor: Supervisor, case_id: int) -> Case:
    """The case if the supervisor may see it; 404 (never 403) when it is outside their groups."""
    return _load_visible(session, supervisor, case_id)


def get_queue(
    state: AppState,
    *,
    supervisor: Supervisor,
    limit: int,
    cursor: str | None,
    severity: Severity | None,
    domain: str | None,
    group: str | None,
    include_deferred: bool = False,
    claimed: bool | None = None,
    mine: bool = False,
    q: str | None = None,
    sort: QueueSort = "priority",
    ids: list[int] | None = None,
) -> QueuePage:
    from store.cases import CursorError

    if ids and cursor:
        raise ProblemError(400, "Invalid query", "ids= reads those cases; drop the cursor")
    try:
        after = QueueCursor.decode(cursor) if cursor else None
    except CursorError as exc:
        raise ProblemError(400, "Invalid cursor", str(exc)) from exc
    if after is not None and after.sort != sort:
        raise ProblemError(
            400,
            "Invalid cursor",
            f"the cursor is for sort={after.sort}, not sort={sort}; start from the first page",
        )
    filters = QueueFilter(
        severity=severity,
        domain=domain,
        claimed=claimed,
        mine=mine,
        q=q.strip() if q and q.strip() else None,
        include_deferred=include_deferred,
        me_id=supervisor.id,
        me_name=supervisor.name,
    )
    with read_session(state.engine) as session:
        if ids:
            items = queue_items_by_id(
                session=session,
                ids=ids,
                now=state.clock(),
                group=group,
                groups=visible_groups(supervisor),
                filters=filters,
            )
            return QueuePage(items=items, next_cursor=None)
        items, next_cursor = queue_page(
            session=session,
            limit=limit,
            now=state.clock(),
            after=after,
            group=group,
            groups=visible_groups(supervisor),
            sort=sort,
            filters=filters,
        )
    return QueuePage(items=items, next_cursor=next_cursor.encode() if next_cursor else None)


def _claim_public(session: Session, case: Case, state: AppState) -> ClaimPublic | None:
    if case.claimed_by_id is None or case.claim_expires_at is None:
        return None
    if case.claim_expires_at <= state.clock() or case.status != "open":
        return None
    holder = session.get(Supervisor, case.claimed_by_id)
    assert case.id is not None
    return ClaimPublic(
        case_id=case.id,
        supervisor_id=case.claimed_by_id,
        supervisor=holder.name if holder else "?",
        token=case.claim_token,
        expires_at=case.claim_expires_at,
    )


def _decision_public(
    session: Session, row: Decision, decider: Supervisor | None = None
) -> DecisionPublic:
    """The decision as shown; ``decider``, when the caller has them, saves a lookup."""
    supervisor = (
        decider
        if decider is not None and decider.id == row.supervisor_id
        else session.get(Supervisor, row.supervisor_id)
    )
    return DecisionPublic(
        decision_id=row.id,
        case_id=row.case_id,
        action=row.action,  # type: ignore[arg-type]
        args_edited=row.action == "approve" and b'"edited_args":' in row.payload,
        post_hoc=row.post_hoc,
        alternative_index=row.alternative_index,
        rationale=row.rationale,
        resolved_action=ActionSpec.model_validate(row.resolved_action)
        if row.resolved_action is not None
        else None,
        supervisor_id=row.supervisor_id,
        supervisor=supervisor.name if supervisor else "?",
        key_id=row.key_id,
        decided_at=row.decided_at,
        envelope=Envelope(
            payloadType=row.payload_type,
            payload=base64.b64encode(row.payload).decode(),
            signatures=[EnvelopeSignature(keyid=row.key_id, sig=row.signature)],
        ),
    )


def _case_public(session: Session, case: Case, state: AppState) -> CasePublic:
    assert case.id is not None
    agent = session.get(Agent, case.agent_id)
    content = case_content(case, agent_name=agent.name if agent else "?")
    decision = latest_decision(session=session, case_id=case.id)
    review = (
        post_hoc_decision(session=session, case_id=case.id) if case.status == "fallback" else None
    )
    now = state.clock()
    return CasePublic(
        **content.model_dump(),
        status=case.status,  # type: ignore[arg-type]
        content_digest=case.content_digest,
        reason=case.policy_reason,
        claim=_claim_public(session, case, state),
        claim_token=case.claim_token,
        decision=_decision_public(session, decision) if decision else None,
        rationale_required=case.rationale_required,
        deferred_until=case.deferred_until
        if case.deferred_until is not None and case.deferred_until > now
        else None,
        post_hoc_decision=_decision_public(session, review) if review else None,
        flagged_for_review=review is not None,
        suggested_assignee=case.suggested_assignee,
        routed_from=case.routed_from,
        routing=case.routing_note,
    )


def get_case(state: AppState, *, supervisor: Supervisor, case_id: int) -> CasePublic:
    with read_session(state.engine) as session:
        return _case_public(session, _load_visible(session, supervisor, case_id), state)


def claim_case(state: AppState, *, supervisor: Supervisor, case_id: int) -> ClaimPublic:
    now = state.clock()
    with write_session(state.engine) as session:
        case = _load_visible(session, supervisor, case_id, for_update=True)
        if case.status != "open":
            raise _not_open(session, case)
        active = _claim_public(session, case, state)
        if active is not None and active.supervisor_id != supervisor.id:
            raise _held_by_other(active, f"case {case_id} is taken")
        assert supervisor.id is not None and case.id is not None
        renew = active is not None
        if not renew:
            case.claim_token += 1
        case.claimed_by_id = supervisor.id
        case.claim_expires_at = now + timedelta(minutes=state.settings.claim_minutes)
        case.updated_at = now
        session.add(case)
        session.add(
            Claim(
                case_id=case.id,
                supervisor_id=supervisor.id,
                token=case.claim_token,
                claimed_at=now,
                expires_at=case.claim_expires_at,
            )
        )
        audit.append_event(
            session,
            kind="case.claim_renewed" if renew else "case.claimed",
            actor=f"supervisor:{supervisor.name}",
            case_id=case.id,
            ts=now,
            data={
                "supervisor_id": supervisor.id,
                "token": case.claim_token,
                "expires_at": case.claim_expires_at.isoformat(),
            },
        )
        return ClaimPublic(
            case_id=case.id,
            supervisor_id=supervisor.id,
            supervisor=supervisor.name,
            token=case.claim_token,
            expires_at=case.claim_expires_at,
        )


def _verified_payload(
    state: AppState, session: Session, supervisor: Supervisor, case_id: int, envelope: Envelope
) -> tuple[DecisionPayload, bytes, SupervisorKey]:
    """Check the signature against the supervisor's enrolled key before anything is written."""
    if envelope.payloadType != DECISION_PAYLOAD_TYPE:
        raise ProblemError(
            422, "Wrong payload type", f"payloadType must be {DECISION_PAYLOAD_TYPE}"
        )
    try:
        payload_bytes = envelope_payload(envelope)
        payload = DecisionPayload.model_validate_json(payload_bytes)
    except SignatureError as exc:
        raise ProblemError(422, "Malformed envelope", str(exc)) from exc
    except ValidationError as exc:
        errs = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ProblemError(422, "Invalid decision payload", errs) from exc
    if payload.case_id != case_id:
        raise ProblemError(
            422, "Wrong case", f"the signed payload is for case {payload.case_id}, not {case_id}"
        )
    if "nonce" not in payload.model_fields_set:
        # Without a signed nonce the envelope could be replayed: refuse it outright.
        raise ProblemError(
            422,
            "Nonce missing",
            "the signed payload must carry a random nonce (16-64 base64url characters)",
        )
    if payload.supervisor_id != supervisor.id:
        raise ProblemError(403, "Not your decision", "the payload names another supervisor")
    key = session.get(SupervisorKey, payload.key_id)
    if key is None or key.supervisor_id != supervisor.id or key.revoked_at is not None:
        raise ProblemError(
            422,
            "Unknown signing key",
            f"key {payload.key_id} is not enrolled for you; run `hitl enroll`",
        )
    if {s.keyid for s in envelope.signatures} != {key.key_id}:
        raise ProblemError(
            422,
            "Signature key mismatch",
            "the envelope must carry one signature by the payload's key_id",
        )
    try:
        verify_envelope(
            envelope,
            {key.key_id: load_public_key(key.public_key)},
            payload_type=DECISION_PAYLOAD_TYPE,
        )
    except SignatureError as exc:
        raise ProblemError(422, "Bad signature", str(exc)) from exc
    _check_signed_at(state, payload)
    return payload, payload_bytes, key


def _check_signed_at(state: AppState, payload: DecisionPayload) -> None:
    """A signature's time may be late (offline consoles and bundles sync hours later)
    but not older than ``decision_max_age_seconds``, and never ahead of the server's clock
    by more than ``decision_max_skew_seconds``. A decision signed over content or under a
    claim that has since changed is refused anyway (digest, fencing token), and a replay
    by its nonce, so the age bound only limits how long a signed, unsent decision lives."""
    settings = state.settings
    age = (state.clock() - payload.signed_at).total_seconds()
    if age < -settings.decision_max_skew_seconds:
        raise ProblemError(
            422,
            "Signature from the future",
            f"signed_at is {int(-age)} s ahead of server time; check the clock and sign again",
        )
    if age > settings.decision_max_age_seconds:
        raise ProblemError(
            422,
            "Stale signature",
            f"signed_at is {_duration(age)} old, beyond the "
            f"{_duration(settings.decision_max_age_seconds)} a signed decision stays valid; "
            "reload the case and sign again (check the clock if this is unexpected)",
        )


def _duration(seconds: float) -> str:
    if seconds >= 5400:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds)} s"


def release_claim(state: AppState, *, supervisor: Supervisor, case_id: int) -> None:
    """Give up your claim before it expires, so others can take the case at once.

    Idempotent: releasing a case you do not hold (nobody does) changes nothing. Another
    supervisor's active claim is theirs to release: 409 naming them.
    """
    now = state.clock()
    with write_session(state.engine) as session:
        case = _load_visible(session, supervisor, case_id, for_update=True)
        active = _claim_public(session, case, state)
        if active is None:
            return
        if active.supervisor_id != supervisor.id:
            raise _held_by_other(active, f"only {active.supervisor} can release case {case_id}")
        assert case.id is not None and supervisor.id is not None
        released = fenced_case_update(
            session=session,
            case=case,
            status=case.status,
            claim_token=active.token,
            holder_id=supervisor.id,
            now=now,
            values={"claimed_by_id": None, "claim_expires_at": None, "updated_at": now},
        )
        assert released, "the case row is locked: its claim cannot have changed"
        audit.append_event(
            session,
            kind="case.claim_released",
            actor=f"supervisor:{supervisor.name}",
            case_id=case.id,
            ts=now,
            data={"supervisor_id": supervisor.id, "token": active.token, "reason": "released"},
        )


def _not_open(session: Session, case: Case) -> ProblemError:
    """409 for a case that cannot be claimed or decided now: what happened to it, by whom."""
    assert case.id is not None
    if case.status == "info_requested":
        return ProblemError(
            409,
            "Waiting on the agent",
            f"case {case.id} asked its agent a question; it reopens when the agent answers",
            status_now=case.status,
        )
    done = latest_decision(session=session, case_id=case.id)
    by = session.get(Supervisor, done.supervisor_id) if done else None
    return ProblemError(
        409,
        "Already decided",
        f"case {case.id} was already decided"
        + (
            f" ({done.action}) by {by.name if by else '?'} at {done.decided_at:%H:%M:%S} UTC"
            if done
            else f" ({case.status})"
        ),
        status_now=case.status,
    )


def _held_by_other(active: ClaimPublic, detail: str) -> ProblemError:
    return ProblemError(
        409,
        "Claimed by someone else",
        f"{detail}: {active.supervisor} holds it until {active.expires_at:%H:%M:%S} UTC",
        claimed_by=active.supervisor,
        claim_token=active.token,
        expires_at=active.expires_at.isoformat(),
    )


def _check_claim(
    state: AppState, session: Session, case: Case, supervisor: Supervisor, payload: DecisionPayload
) -> int:
    """The fencing token the decision was made under, if it is still the case's.

    A decision names the case's fencing token as the signer saw it: that of their own claim,
    or of the last claim on the case if they signed without claiming (0: never claimed).
    It is refused if someone else holds an active claim now, or if the case was claimed
    again since (a new claim takes the next token): a supervisor whose lease lapsed cannot
    decide over a newer claim.
    """
    assert case.id is not None
    active = _claim_public(session, case, state)
    if active is not None and active.supervisor_id != supervisor.id:
        raise _held_by_other(active, f"case {case.id} cannot be decided by you now")
    if payload.claim_token is None:
        raise ProblemError(
            422,
            "Claim token missing",
            f"sign the decision with case {case.id}'s claim token: the token of your claim "
            f"(POST /v1/cases/{case.id}/claim), or CasePublic.claim_token if you did not claim",
        )
    if payload.claim_token != case.claim_token:
        last = session.exec(
            select(Claim.supervisor_id)
            .where(Claim.case_id == case.id)
            .where(Claim.token == case.claim_token)
        ).first()
        holder = session.get(Supervisor, last) if last is not None else None
        raise ProblemError(
            409,
            "Stale claim token",
            f"the decision was signed under claim token {payload.claim_token}, but case "
            f"{case.id}'s is now {case.claim_token}"
            + (f" (claimed by {holder.name})" if holder is not None else "")
            + ": it was claimed since. Reload it, claim it and sign again",
            claim_token=case.claim_token,
            claimed_by=holder.name if holder is not None else None,
        )
    return case.claim_token


def decide(
    state: AppState, *, supervisor: Supervisor, case_id: int, envelope: Envelope
) -> DecisionPublic:
    """Record a signed decision of any kind (see :mod:`backend.services.decision_kinds`).

    Checked in this order, each refusal before anything is written: the signature and its
    time (422), the case in your groups (404), a replayed nonce or decision id (409), the
    case's status (409), the claim token (409), the content you signed (409), the decision
    itself (422). The write is a conditional update on the case's status and the claim
    token, so it cannot land on a newer claim.
    """
    now = state.clock()
    with write_session(state.engine) as session:
        payload, payload_bytes, key = _verified_payload(
            state, session, supervisor, case_id, envelope
        )
        case = _load_visible(session, supervisor, case_id, for_update=True)
        assert case.id is not None and supervisor.id is not None
        seen = decision_replayed(
            session=session, decision_id=payload.decision_id, nonce=payload.nonce
        )
        if seen is not None:
            # ``recorded``: this very decision is the one on record (a resend whose first
            # answer was lost), as opposed to a copy of its nonce in another decision.
            raise ProblemError(
                409,
                "Replayed decision",
                f"decision {payload.decision_id} (nonce {payload.nonce}) was already "
                "submitted; sign a new decision to decide again",
                decision_id=seen.id,
                case_id=seen.case_id,
                recorded=seen.id == payload.decision_id and seen.nonce == payload.nonce,
            )
        if case.status not in DECIDABLE:
            raise _not_open(session, case)
        token = _check_claim(state, session, case, supervisor, payload)
        if payload.content_digest != case.content_digest:
            raise ProblemError(
                409,
                "Case changed",
                f"case {case_id} changed since it was shown to you; reload it and decide again",
                content_digest=case.content_digest,
            )
        effect = plan_decision(session, case, supervisor, payload, now)
        status_before = case.status
        if not fenced_case_update(
            session=session,
            case=case,
            status=status_before,
            claim_token=token,
            holder_id=supervisor.id,
            now=now,
            values={"status": effect.status, **effect.values},
        ):
            raise _lost_claim(session, case, state)
        row = Decision(
            id=payload.decision_id,
            case_id=case.id,
            supervisor_id=supervisor.id,
            key_id=key.key_id,
            action=payload.action,
            alternative_index=payload.alternative_index,
            rationale=payload.rationale,
            resolved_action=effect.resolved.model_dump(mode="json") if effect.resolved else None,
            payload_type=envelope.payloadType,
            payload=payload_bytes,
            signature=envelope.signatures[0].sig,
            decided_at=now,
            nonce=payload.nonce,
            claim_token=token,
            post_hoc=effect.post_hoc,
        )
        session.add(row)
        audit.append_event(
            session,
            kind=effect.audit_kind,
            actor=f"supervisor:{supervisor.name}",
            case_id=case.id,
            ts=now,
            data={
                "decision_id": row.id,
                "action": row.action,
                "supervisor_id": supervisor.id,
                "key_id": key.key_id,
                "claim_token": token,
                **effect.audit_data,
                "envelope": json.loads(envelope.model_dump_json()),
            },
        )
        try:
            session.flush()
        except IntegrityError as exc:
            # The same nonce recorded by a concurrent request since the check above.
            raise ProblemError(
                409, "Replayed decision", f"decision {payload.decision_id} was already submitted"
            ) from exc
        public = _decision_public(session, row, supervisor)
    state.notifier.notify(case_id)
    if effect.status == "decided":
        events.decision_recorded(state, case=case, decision=public)
    return public


def _lost_claim(session: Session, case: Case, state: AppState) -> ProblemError:
    """The conditional write found the case no longer held as checked: say what it is now."""
    session.expire(case)
    session.refresh(case)
    active = _claim_public(session, case, state)
    if active is not None:
        return _held_by_other(active, f"case {case.id} was claimed again before your decision")
    return ProblemError(
        409,
        "Case changed",
        f"case {case.id} is {case.status} and unclaimed now; reload it and decide again",
        status_now=case.status,
    )
