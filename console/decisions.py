"""Build and sign a decision on the supervisor's machine.

The console recomputes the content digest from what it received before signing, so a
supervisor never signs a digest that does not match what the screen shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from console.errors import ConsoleError
from store.contracts import (
    ActionSpec,
    CaseContent,
    CasePublic,
    DecisionKind,
    DecisionPayload,
    Envelope,
    Severity,
    utcnow,
)
from store.signing import DECISION_PAYLOAD_TYPE, key_id, sign_envelope

__all__ = ["DigestMismatch", "build_decision", "sign_decision"]


class DigestMismatch(ConsoleError):
    """The case's content does not hash to the digest the backend sent."""


def shown_digest(case: CasePublic) -> str:
    content = CaseContent.model_validate(case.model_dump(include=set(CaseContent.model_fields)))
    return content.digest()


def build_decision(
    case: CasePublic,
    *,
    action: DecisionKind,
    supervisor_id: int,
    key: Ed25519PrivateKey,
    alternative_index: int | None = None,
    rationale: str = "",
    signed_at: datetime | None = None,
    claim_token: int | None = None,
    edited_args: dict[str, Any] | None = None,
    custom_action: ActionSpec | None = None,
    question: str | None = None,
    to_supervisor: str | None = None,
    to_group: str | None = None,
    severity: Severity | None = None,
    defer_minutes: int | None = None,
) -> DecisionPayload:
    """The payload to sign. ``claim_token`` is the token of your claim on the case (from
    ``HitlClient.claim``); by default the case's fencing token as shown. A fresh random
    nonce makes the signed bytes unique. The other keywords are the details of each kind
    of decision (see :class:`store.contracts.DecisionPayload`); a payload that does not fit
    its kind raises pydantic's ``ValidationError`` with the reason."""
    digest = shown_digest(case)
    if digest != case.content_digest:
        raise DigestMismatch(f"case {case.id} does not match its digest; reload it before deciding")
    if claim_token is None:
        claim_token = case.claim_token
    return DecisionPayload(
        case_id=case.id,
        content_digest=digest,
        action=action,
        alternative_index=alternative_index,
        edited_args=edited_args,
        custom_action=custom_action,
        question=question,
        to_supervisor=to_supervisor,
        to_group=to_group,
        severity=severity,
        defer_minutes=defer_minutes,
        rationale=rationale,
        claim_token=claim_token,
        supervisor_id=supervisor_id,
        key_id=key_id(key.public_key()),
        signed_at=signed_at or utcnow(),
    )


def sign_decision(payload: DecisionPayload, key: Ed25519PrivateKey) -> Envelope:
    return sign_envelope(payload.to_bytes(), DECISION_PAYLOAD_TYPE, key)
