"""Build and sign a decision on the supervisor's machine.

The console recomputes the content digest from what it received before signing, so a
supervisor never signs a digest that does not match what the screen shows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import TypeAdapter, ValidationError

from console.errors import ConsoleError
from store.contracts import (
    FINAL_ACTIONS,
    MAX_DEFER_MINUTES,
    SEVERITIES,
    SEVERITY_RANK,
    ActionSpec,
    CaseContent,
    CasePublic,
    DecisionKind,
    DecisionPayload,
    Envelope,
    JsonObject,
    Severity,
    utcnow,
)
from store.signing import DECISION_PAYLOAD_TYPE, key_id, sign_envelope

__all__ = [
    "DecisionRequest",
    "DigestMismatch",
    "InvalidDecision",
    "build_decision",
    "higher_severities",
    "needs_confirmation",
    "needs_rationale",
    "parse_args",
    "parse_minutes",
    "sign_decision",
    "what_changed",
]

#: Kinds whose rationale the backend requires whatever the policy says (custom overrides
#: too: see :func:`needs_rationale`).
RATIONALE_KINDS = ("reject", "reassign", "defer")
#: Severities whose every decision is confirmed, showing exactly what will be signed.
CONFIRM_SEVERITIES = ("high", "critical")


class DigestMismatch(ConsoleError):
    """The case's content does not hash to the digest the backend sent."""


class InvalidDecision(ConsoleError):
    """What was asked does not make a valid decision (caught before anything is signed)."""


@dataclass(frozen=True)
class DecisionRequest:
    """What the supervisor decided, before it is claimed, built and signed: the kind and
    its details (the keywords of :func:`build_decision`)."""

    action: DecisionKind
    rationale: str = ""
    alternative_index: int | None = None
    edited_args: dict[str, Any] | None = None
    custom_action: ActionSpec | None = None
    question: str | None = None
    to_supervisor: str | None = None
    to_group: str | None = None
    severity: Severity | None = None
    defer_minutes: int | None = None

    def details(self) -> dict[str, Any]:
        """The keywords for :func:`build_decision` (``action`` and ``rationale`` included)."""
        fields = asdict(self)
        fields["custom_action"] = self.custom_action  # asdict turned it into a dict
        return fields


def needs_rationale(case: CasePublic, request_action: str, *, custom: bool = False) -> bool:
    """Whether the backend refuses this kind of decision on ``case`` without a rationale."""
    if request_action in RATIONALE_KINDS or (request_action == "override" and custom):
        return True
    return case.rationale_required and request_action in FINAL_ACTIONS


def needs_confirmation(case: CasePublic, action: str) -> bool:
    """Approvals always show what will be signed; on high and critical cases, every kind."""
    return action == "approve" or case.severity in CONFIRM_SEVERITIES


def higher_severities(case: CasePublic) -> list[Severity]:
    """The severities ``case`` can be raised to, least severe first."""
    rank = SEVERITY_RANK[case.severity]
    return [s for s in reversed(SEVERITIES) if SEVERITY_RANK[s] < rank]


_JSON_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(JsonObject)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_args(text: str) -> dict[str, Any]:
    """Arguments typed as JSON: an object whose numbers canonical JSON carries exactly.

    Raises :class:`InvalidDecision` saying where and what to fix.
    """
    if not text.strip():
        raise InvalidDecision("the arguments are empty: type a JSON object, {} for none")
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidDecision(
            f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc
    except ValueError as exc:
        raise InvalidDecision(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidDecision(
            f"the arguments must be a JSON object ({{...}}), not {type(value).__name__}"
        )
    try:
        return _JSON_OBJECT.validate_python(value)
    except ValidationError as exc:
        raise InvalidDecision(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc


def parse_minutes(text: str) -> int:
    """``30``, ``90m``, ``2h`` or ``1d`` as minutes (1 to a week)."""
    raw = text.strip().lower().replace(" ", "")
    factor = {"m": 1, "h": 60, "d": 24 * 60}.get(raw[-1:], 0)
    digits = raw[:-1] if factor else raw
    if not digits.isdigit():
        raise InvalidDecision("say for how long: minutes (30), or with a unit: 90m, 2h, 1d")
    minutes = int(digits) * (factor or 1)
    if not 1 <= minutes <= MAX_DEFER_MINUTES:
        raise InvalidDecision(f"a deferral lasts 1 to {MAX_DEFER_MINUTES} minutes (a week)")
    return minutes


def what_changed(before: CasePublic, after: CasePublic, *, me_id: int) -> list[str]:
    """What differs between the case as it was shown and as it is now, in a few words
    each: the decision made elsewhere, who holds the claim, which content fields."""
    changes: list[str] = []
    decision = after.decision
    if decision is not None and decision != before.decision:
        changes.append(f"decided elsewhere: {decision.action} by {decision.supervisor}")
    if after.status != before.status:
        changes.append(f"status {before.status} → {after.status}")
    claim = after.claim
    if claim is not None and claim.supervisor_id != me_id:
        changes.append(f"claimed by {claim.supervisor} until {claim.expires_at:%H:%M:%S} UTC")
    elif after.claim_token != before.claim_token:
        changes.append(
            f"claimed again since (claim token {before.claim_token} → {after.claim_token})"
        )
    fields = []
    for name in CaseContent.model_fields:
        old, new = getattr(before, name), getattr(after, name)
        if old == new:
            continue
        if name in ("severity", "group"):
            fields.append(f"{name} {old} → {new}")
        elif name == "info_exchange":
            fields.append("questions and answers")
        else:
            fields.append(name.replace("_", " "))
    if fields:
        changes.append("changed: " + ", ".join(fields))
    return changes


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
