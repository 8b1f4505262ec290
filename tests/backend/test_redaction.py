"""PII redaction: what is found, what is left alone, and how placeholders behave.

Pure functions, no database. The API-level proof (nothing reaches the SQLite file) is in
``test_pii_at_rest.py``.
"""

from __future__ import annotations

import re

import pytest

from backend.services.redaction import (
    RedactionError,
    compile_field_paths,
    iban_ok,
    luhn_ok,
    placeholder,
    redact_escalation,
    redact_json,
    redact_text,
)
from store.contracts import Breadcrumb
from store.samples import sample_escalations

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
PLACEHOLDER = re.compile(r"⟦(?P<kind>[a-z]+):[0-9a-f]{12}⟧")


def kinds(text: str) -> list[str]:
    return [m.group("kind") for m in PLACEHOLDER.finditer(text)]


def r(text: str) -> str:
    return redact_text(text, key=KEY)


@pytest.mark.parametrize(
    "value",
    ["jane.doe@example.com", "Jane.Doe+refunds@mail.Example.co.uk", "x_1@sub.domain.io"],
)
def test_redact_email_becomes_placeholder(value: str) -> None:
    """An e-mail address in text is replaced; the words around it stay."""
    out = r(f"Customer {value} wrote twice.")
    assert value not in out
    assert kinds(out) == ["email"]
    assert out.startswith("Customer ⟦email:") and out.endswith("⟧ wrote twice.")


def test_redact_email_is_case_insensitive() -> None:
    """The same mailbox written in other case gives the same placeholder."""
    assert r("JANE@EXAMPLE.COM") == r("jane@example.com")


@pytest.mark.parametrize(
    "value",
    [
        "4111 1111 1111 1111",  # Visa test number, grouped
        "4111-1111-1111-1111",
        "4111111111111111",
        "5555 5555 5555 4444",  # Mastercard
        "3782 822463 10005",  # Amex, 4-6-5
        "6011111111111117",  # Discover
    ],
)
def test_redact_card_that_passes_luhn(value: str) -> None:
    """Card numbers that pass the Luhn check are replaced, however they are grouped."""
    out = r(f"paid with {value}.")
    assert kinds(out) == ["card"]
    assert not re.search(r"\d{4}", out.replace(PLACEHOLDER.search(out).group(), ""))  # type: ignore[union-attr]


def test_redact_card_same_number_any_grouping_same_placeholder() -> None:
    """The placeholder depends on the digits, not on how they were written."""
    assert r("4111 1111 1111 1111") == r("4111-1111-1111-1111") == r("4111111111111111")


@pytest.mark.parametrize(
    "value",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "4111111111111112",
        "1767344400000",  # epoch milliseconds: not a card network's number
        "1234 5678 9012",  # 12 digits: too short
        "12345678901234567890123",  # too long
    ],
)
def test_redact_digit_runs_that_are_not_cards_stay(value: str) -> None:
    """Near misses: digit runs that fail Luhn or are no card's length are left alone."""
    assert r(f"ref {value} ok") == f"ref {value} ok"


def test_luhn_and_iban_checks() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and not iban_ok("DE89370400440532013001")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")


@pytest.mark.parametrize(
    "value",
    [
        "DE89 3704 0044 0532 0130 00",
        "DE89370400440532013000",
        "GB82 WEST 1234 5698 7654 32",
        "gb82west12345698765432",
        "NL91 ABNA 0417 1643 00",
        "BE68 5390 0754 7034",
    ],
)
def test_redact_iban_with_valid_checksum(value: str) -> None:
    """IBANs whose mod-97 check holds are replaced, spaced or not, in any case."""
    out = r(f"pay to {value} today")
    assert out.startswith("pay to ⟦iban:") and out.endswith("⟧ today")


def test_redact_iban_does_not_swallow_the_next_word() -> None:
    """A four-letter word after a spaced IBAN is not taken as one of its groups."""
    out = r("BE68 5390 0754 7034 THEN stop")
    assert kinds(out) == ["iban"] and out.endswith("⟧ THEN stop")


@pytest.mark.parametrize(
    "value", ["GB82 WEST 1234 5698 7654 33", "GB82WEST12345698765433", "XX12WEST123456987654"]
)
def test_redact_iban_with_bad_checksum_stays(value: str) -> None:
    """Near miss: an IBAN-shaped string whose mod-97 check fails is left alone."""
    assert r(f"pay to {value} today") == f"pay to {value} today"


@pytest.mark.parametrize(
    "value",
    [
        "+1 (415) 555-0100",
        "+14155550100",
        "+44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "0044 20 7946 0958",
        "(415) 555-0100",
        "415-555-0100",
        "415.555.0100",
        "020 7946 0958",
        "06 12 34 56 78",
        "0612345678",
    ],
)
def test_redact_phone_number(value: str) -> None:
    """International numbers, North American ones and national ones with a trunk 0."""
    out = r(f"call {value} now")
    assert out.startswith("call ⟦phone:") and out.endswith("⟧ now"), out


@pytest.mark.parametrize(
    "value",
    [
        "2026-03-02",  # a date
        "2026-03-02 10:30",
        "1,249.00",  # an amount
        "12 500 000",
        "+1 2",
        "ord 12345678",  # an 8-digit identifier
        "v2.14.3",
    ],
)
def test_redact_numbers_that_are_not_phones_stay(value: str) -> None:
    """Dates, amounts and short identifiers are not phone numbers."""
    assert r(f"at {value} ok") == f"at {value} ok"


def test_redact_phone_then_card_in_one_run() -> None:
    """A phone number followed by a card: both found, neither swallows the other."""
    out = r("415-555-0100 4111 1111 1111 1111")
    assert kinds(out) == ["phone", "card"]


@pytest.mark.parametrize(
    "value",
    [
        "203.0.113.7",
        "10.0.0.1",
        "255.255.255.255",
        "2001:db8::8a2e:370:7334",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "fe80::1",
        "dead:beef::cafe",
        "::ffff:192.0.2.1",
    ],
)
def test_redact_ip_address(value: str) -> None:
    """IPv4 and IPv6 addresses are replaced."""
    out = r(f"login from {value}, blocked")
    assert out.startswith("login from ⟦ip:") and out.endswith("⟧, blocked"), out


def test_redact_ip_mapped_and_expanded_forms_match() -> None:
    """One address, one placeholder: IPv4-mapped IPv6 reads as IPv4, zeros compress."""
    assert r("::ffff:192.0.2.1") == r("192.0.2.1")
    assert r("2001:0db8:0000:0000:0000:ff00:0042:8329") == r("2001:db8::ff00:42:8329")


@pytest.mark.parametrize(
    "text",
    [
        "upgraded to 1.2.3 yesterday",  # three parts: a version
        "build 1.2.3.4.5",  # five parts: a version
        "release v1.2.3.4",  # a version with its v
        "octets 256.1.1.1 and 01.2.3.4",  # out of range, leading zero
        "at 10:30:00 UTC",  # a time, not IPv6
        "MAC 00:1a:2b:3c:4d:5e",
        "std::vector and a::b",
    ],
)
def test_redact_version_strings_and_times_are_not_ips(text: str) -> None:
    """Near misses: version strings, times and MAC addresses stay as they are."""
    assert r(text) == text


def test_redact_same_value_same_placeholder_across_texts() -> None:
    """The keyed hash is deterministic: a supervisor can match values across cases."""
    a = r("refund for jane@example.com")
    b = r("second ticket from jane@example.com, call +44 20 7946 0958")
    assert PLACEHOLDER.search(a).group() == PLACEHOLDER.search(b).group()  # type: ignore[union-attr]


def test_redact_different_key_different_placeholder() -> None:
    """Another server key gives other placeholders: guesses cannot be checked without it."""
    text = "jane@example.com 4111111111111111 DE89370400440532013000 10.0.0.1"
    assert redact_text(text, key=KEY) != redact_text(text, key=OTHER_KEY)
    assert placeholder("email", "jane@example.com", KEY) != placeholder(
        "email", "jane@example.com", OTHER_KEY
    )


def test_redact_kinds_do_not_collide() -> None:
    """The kind is part of what is hashed: the same digits as card and as phone differ."""
    assert (
        placeholder("card", "4111111111111111", KEY)[6:]
        != placeholder("phone", "4111111111111111", KEY)[7:]
    )


def test_redact_is_idempotent() -> None:
    """Placeholders already in the text (an agent quoting an earlier case) stay as they are."""
    text = "jane@example.com at 203.0.113.7 paid 4111 1111 1111 1111 from +44 20 7946 0958"
    once = r(text)
    assert kinds(once) == ["email", "ip", "card", "phone"]
    assert r(once) == once


def test_redact_json_strings_keys_and_card_integers() -> None:
    """In JSON: strings and keys are scanned, escapes do not hide anything, an integer
    card number becomes a placeholder string, other numbers stay."""
    value = {
        "note": "line one\n415-555-0100\tend",
        "quoted": 'she said "jane@example.com"',
        "jane@example.com": True,
        "card": 4111111111111111,
        "ts": 1767344400000,
        "amount": 129.95,
        "nested": [{"ip": "10.0.0.1"}, None, 42],
    }
    out = redact_json(value, key=KEY)
    assert kinds(out["note"]) == ["phone"] and out["note"].startswith("line one\n")
    assert kinds(out["quoted"]) == ["email"] and out["quoted"].endswith('"')
    assert [kinds(k) for k in out if k.startswith("⟦")] == [["email"]]
    assert kinds(out["card"]) == ["card"]
    assert out["ts"] == 1767344400000 and out["amount"] == 129.95
    assert kinds(out["nested"][0]["ip"]) == ["ip"] and out["nested"][1:] == [None, 42]


def test_redact_escalation_without_pii_is_the_same_object() -> None:
    """The sample escalations hold no personal data: nothing changes (and nothing is
    re-validated, the fast path)."""
    for escalation in sample_escalations(60):
        assert redact_escalation(escalation, key=KEY) is escalation


def test_redact_escalation_every_text_field() -> None:
    """Summary, actions, context, reasoning, evidence, alternatives, flags: all scanned;
    the trace id, domain and model are not."""
    base = sample_escalations(1)[0]
    email = "jane@example.com"
    escalation = base.model_copy(
        update={
            "summary": f"Refund for {email}",
            "proposed_action": base.proposed_action.model_copy(
                update={"args": {**base.proposed_action.args, "notify": email}}
            ),
            "context": {**base.context, "contact": {"email": email, "ip": "10.0.0.1"}},
            "reasoning": [Breadcrumb(step="Looked up", detail=f"{email} has 2 orders")],
            "evidence": [base.evidence[0].model_copy(update={"content": f"ticket from {email}"})],
            "alternatives": [
                base.alternatives[0].model_copy(update={"rationale": f"ask {email} first"})
            ],
            "risk_flags": [*base.risk_flags, f"watchlist:{email}"],
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        }
    )
    out = redact_escalation(escalation, key=KEY)
    assert email not in out.model_dump_json()
    assert out.model_dump_json().count("⟦email:") == 7
    assert out.trace_id == escalation.trace_id
    assert out.domain == escalation.domain and out.model == escalation.model
    assert out.context["contact"]["ip"].startswith("⟦ip:")


def test_redact_escalation_named_fields() -> None:
    """Fields the policy names become ⟦field:…⟧ whatever they hold; an object has each
    value replaced and keeps its keys; lists are walked through."""
    base = sample_escalations(1)[0]
    escalation = base.model_copy(
        update={
            "context": {
                **base.context,
                "customer": {"name": "Jane Doe", "address": {"city": "Leeds", "zip": 12345}},
            }
        }
    )
    fields = ["context.customer.name", "context.customer.address", "evidence.title"]
    out = redact_escalation(escalation, key=KEY, fields=fields)
    customer = out.context["customer"]
    assert kinds(customer["name"]) == ["field"]
    assert set(customer["address"]) == {"city", "zip"}
    assert all(kinds(v) == ["field"] for v in customer["address"].values())
    assert all(kinds(e.title) == ["field"] for e in out.evidence)
    again = redact_escalation(escalation, key=KEY, fields=fields)
    assert again.context["customer"]["name"] == customer["name"]


def test_redact_field_paths_are_checked() -> None:
    """A path into something that is never redacted, or an empty segment, is refused."""
    with pytest.raises(ValueError, match="must start with"):
        compile_field_paths(("model.name",))
    with pytest.raises(ValueError, match="empty segment"):
        compile_field_paths(("context..name",))


def test_redact_escalation_too_long_once_redacted() -> None:
    """A placeholder longer than the value it replaces can push a field past its limit:
    refused with a message naming the field, not stored truncated."""
    base = sample_escalations(1)[0]
    summary = ("ip 1.1.1.1 " * 46)[:500]
    with pytest.raises(RedactionError, match="summary"):
        redact_escalation(base.model_copy(update={"summary": summary}), key=KEY)
