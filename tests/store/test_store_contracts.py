"""store.contracts: the validation messages agents, supervisors and the console see."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from store.canonical import canonical_json, parse_json
from store.contracts import (
    Confidence,
    DecisionPayload,
    Envelope,
    EscalationCreate,
    KeyEnroll,
)
from store.samples import sample_escalation

SIGNED_AT = datetime(2026, 3, 2, 9, 5, tzinfo=UTC)


def decision(**changes: Any) -> DecisionPayload:
    fields: dict[str, Any] = {
        "decision_id": "d-1",
        "case_id": 7,
        "content_digest": "sha256:" + "0" * 64,
        "action": "approve",
        "supervisor_id": 1,
        "key_id": "k" * 32,
        "signed_at": SIGNED_AT,
    }
    return DecisionPayload(**{**fields, **changes})


def message(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return "; ".join(e["msg"] for e in exc.value.errors())


def test_decision_payload_rejection_needs_a_rationale() -> None:
    """Rejecting without saying why (or with only spaces) is refused with that reason."""
    for rationale in ("", "   \n"):
        with pytest.raises(ValidationError) as exc:
            decision(action="reject", rationale=rationale)
        assert "a rejection needs a rationale" in message(exc)
    assert decision(action="reject", rationale="amount too high").action == "reject"


def test_decision_payload_override_names_its_alternative() -> None:
    """An override must say which alternative it picks; approve and reject must not pick one."""
    with pytest.raises(ValidationError) as exc:
        decision(action="override")
    assert "names the alternative it picks (alternative_index)" in message(exc)
    with pytest.raises(ValidationError) as exc:
        decision(action="approve", alternative_index=0)
    assert "only an override picks an alternative" in message(exc)
    assert decision(action="override", alternative_index=2).alternative_index == 2
    with pytest.raises(ValidationError):
        decision(action="override", alternative_index=9)


def test_decision_payload_needs_an_aware_signing_time() -> None:
    """A signing time without a timezone is ambiguous and refused."""
    with pytest.raises(ValidationError) as exc:
        decision(signed_at=datetime(2026, 3, 2, 9, 5))
    assert "timezone" in message(exc)


def test_decision_payload_bytes_are_canonical_and_round_trip() -> None:
    """The signed bytes are RFC 8785 canonical JSON and parse back to the same decision."""
    payload = decision(action="override", alternative_index=1, rationale="Grüße 😀")
    raw = payload.to_bytes()
    assert canonical_json(parse_json(raw)) == raw
    assert DecisionPayload.model_validate_json(raw) == payload


def test_confidence_interval_must_be_low_then_high() -> None:
    """An interval given as (high, low) is refused with the expected order in the message."""
    with pytest.raises(ValidationError) as exc:
        Confidence(reported=0.8, calibrated=0.7, interval=(0.9, 0.6))
    assert "interval must be (low, high) with low <= high" in message(exc)
    assert Confidence(reported=0.8, interval=(0.6, 0.6)).interval == (0.6, 0.6)


@pytest.mark.parametrize("score", [-0.01, 1.01])
def test_confidence_scores_stay_between_zero_and_one(score: float) -> None:
    """Scores outside [0, 1] are refused."""
    with pytest.raises(ValidationError):
        Confidence(reported=score)


def test_contracts_forbid_unknown_fields() -> None:
    """A misspelt or extra field is an error, not silently dropped (agents learn at once)."""
    body = sample_escalation(1).model_dump(mode="json")
    with pytest.raises(ValidationError) as exc:
        EscalationCreate.model_validate({**body, "severity": "critical"})
    assert exc.value.errors()[0]["type"] == "extra_forbidden"
    assert exc.value.errors()[0]["loc"] == ("severity",)
    with pytest.raises(ValidationError):
        decision(approved_by="ceo")
    with pytest.raises(ValidationError):
        KeyEnroll.model_validate({"public_key": "x", "comment": "laptop"})


def test_envelope_needs_at_least_one_signature() -> None:
    """An envelope without signatures is malformed before any cryptography runs."""
    with pytest.raises(ValidationError):
        Envelope(payloadType="t", payload="", signatures=[])


@pytest.mark.parametrize("domain", ["Payments", "", "-x", "pay ments", "a" * 65])
def test_escalation_domain_is_a_lowercase_slug(domain: str) -> None:
    """Domains are short lowercase identifiers; anything else is refused."""
    body = sample_escalation(1).model_dump(mode="json")
    with pytest.raises(ValidationError):
        EscalationCreate.model_validate({**body, "domain": domain})
