"""PII never reaches the database: an escalation full of personal data goes in through the
API, and the SQLite file and its WAL are searched, byte for byte, for every original."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import pytest

from console.errors import Conflict
from store.contracts import Alternative, Breadcrumb, EscalationCreate, EvidenceItem
from store.migrate import upgrade
from store.samples import sample_escalations

NAME = "Margarethe Quimby-Oyelaran"  # redacted because settings name the field
PII = {
    "email": "jane.doe@example.com",
    "email2": "J.Smith+Refunds@Mail.Example.org",
    "phone": "+44 20 7946 0958",
    "phone_us": "(415) 555-0100",
    "card": "4111 1111 1111 1111",
    "amex": "378282246310005",
    "iban": "DE89 3704 0044 0532 0130 00",
    "iban_gb": "GB82WEST12345698765432",
    "ipv4": "203.0.113.7",
    "ipv6": "2001:db8::8a2e:370:7334",
    "name": NAME,
}


def _forms(value: str) -> set[str]:
    """The value and the other ways it could have been stored: lower case, digits only,
    without spaces."""
    forms = {value, value.lower(), value.replace(" ", "")}
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 8:
        forms.add(digits)
    return forms


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the proof reads the database file."""
    url = f"sqlite:///{tmp_path / 'hitl.db'}"
    upgrade(url)
    return url


@pytest.fixture(autouse=True)
def _redact_customer_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HITL_REDACT_FIELDS", "context.customer.name")


def _full_of_pii(key: str = "pii-1") -> EscalationCreate:
    base = sample_escalations(1)[0]
    p = PII
    return base.model_copy(
        update={
            "idempotency_key": key,
            "summary": f"Refund 129.95 EUR to {p['email']} (card {p['card']})",
            "proposed_action": base.proposed_action.model_copy(
                update={
                    "args": {
                        **base.proposed_action.args,
                        "notify": p["email2"],
                        "payout_iban": p["iban"],
                        "card_number": int(p["amex"]),
                    }
                }
            ),
            "context": {
                **base.context,
                "customer": {"name": NAME, "phone": p["phone"]},
                "last_login_ip": p["ipv4"],
                "devices": [{"ip": p["ipv6"]}],
            },
            "reasoning": [
                *base.reasoning,
                Breadcrumb(step="Called the customer", detail=f"Reached {p['phone_us']}"),
            ],
            "evidence": [
                *base.evidence,
                EvidenceItem(
                    title="Bank letter",
                    content=f"Account {p['iban_gb']}\nholder e-mail {p['email']}",
                    source=f"mailto:{p['email2']}",
                ),
            ],
            "alternatives": [
                *base.alternatives,
                Alternative(
                    action=base.proposed_action.model_copy(
                        update={"args": {"refund_to_card": p["card"]}}
                    ),
                    rationale=f"card {p['card']} is still valid",
                ),
            ],
            "risk_flags": [*base.risk_flags, f"login_from:{p['ipv4']}"],
            "trace_id": None,
        }
    )


def _stored_bytes(db_url: str) -> bytes:
    path = Path(db_url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def test_pii_never_reaches_the_database_file(backend_env, caplog) -> None:
    """Agents send personal data; the database file and its WAL hold none of it, in any
    form, and the supervisor sees typed placeholders instead."""
    caplog.set_level(logging.INFO, logger="hitl")
    agent = backend_env.client(backend_env.agent_token)
    status = await agent.submit_escalation(_full_of_pii())
    replay = await agent.submit_escalation(_full_of_pii())  # same body, same case
    assert replay.id == status.id

    case = await backend_env.client().case(status.id)
    shown = case.model_dump_json()
    for kind in ("email", "phone", "card", "iban", "ip", "field"):
        assert f"⟦{kind}:" in shown, kind
    assert case.context["customer"]["name"].startswith("⟦field:")

    stored = _stored_bytes(backend_env.db_url)
    email_hash = re.search(r"⟦email:([0-9a-f]{12})⟧", case.summary).group(1)  # type: ignore[union-attr]
    assert email_hash.encode() in stored  # the file does hold the case
    for label, value in PII.items():
        for form in _forms(value):
            assert form.encode() not in stored, f"{label} found in the database as {form!r}"
            assert form.encode("utf-16-le") not in stored, label
            assert form not in caplog.text, f"{label} found in the log"
            for record in caplog.records:
                assert form not in str(record.__dict__), label


async def test_pii_same_value_same_placeholder_across_cases(backend_env) -> None:
    """Two cases about the same customer show the same placeholders ("same e-mail as case
    812"), without showing the address."""
    agent = backend_env.client(backend_env.agent_token)
    first = await backend_env.client().case((await agent.submit_escalation(_full_of_pii())).id)
    other = sample_escalations(2)[1].model_copy(
        update={"summary": f"Second ticket from {PII['email'].upper()}"}
    )
    second = await backend_env.client().case((await agent.submit_escalation(other)).id)
    placeholder = re.search(r"⟦email:[0-9a-f]{12}⟧", first.summary).group()  # type: ignore[union-attr]
    assert second.summary == f"Second ticket from {placeholder}"


async def test_pii_idempotency_digest_is_over_the_redacted_body(backend_env) -> None:
    """Replays match on the redacted body: the same key with other personal data is still
    another body (409), though no original is kept to compare with."""
    agent = backend_env.client(backend_env.agent_token)
    await agent.submit_escalation(_full_of_pii())
    changed = _full_of_pii().model_copy(update={"summary": "Refund to someone@else.example"})
    with pytest.raises(Conflict):
        await agent.submit_escalation(changed)


async def test_pii_redaction_key_file_created_private(backend_env, tmp_path: Path) -> None:
    """On first start the redaction key is created beside the server key, mode 0600."""
    path = tmp_path / "redaction_key"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bytes.fromhex(path.read_text().strip()) == backend_env.state.redaction_key
