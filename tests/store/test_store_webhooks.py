"""Webhook signatures (store/webhooks.py) against the Standard Webhooks spec's example
vector and its reference verifier (the ``standardwebhooks`` package)."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from store.webhooks import (
    derive_secret,
    format_secret,
    key_id,
    parse_secret,
    sign,
    signature_header,
)

# The example the Standard Webhooks libraries test their signing with.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_matches_the_spec_example_vector() -> None:
    """The signature of the spec's example message is byte for byte the published one."""
    secret = parse_secret(SPEC_SECRET)
    assert sign(secret, msg_id=SPEC_MSG_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY) == (
        SPEC_SIGNATURE
    )


def test_sign_differs_when_any_signed_part_changes() -> None:
    """Id, timestamp and body are all covered: changing any one changes the signature."""
    secret = parse_secret(SPEC_SECRET)
    base = {"msg_id": SPEC_MSG_ID, "timestamp": SPEC_TIMESTAMP, "body": SPEC_BODY}
    reference = sign(secret, **base)  # type: ignore[arg-type]
    for change in (
        {"msg_id": "msg_other"},
        {"timestamp": SPEC_TIMESTAMP + 1},
        {"body": b'{"test": 2432232315}'},
    ):
        assert sign(secret, **(base | change)) != reference  # type: ignore[arg-type]


def test_sign_refuses_a_message_id_with_a_dot() -> None:
    """A '.' in the id would make '{id}.{ts}.{body}' ambiguous; the spec forbids it."""
    with pytest.raises(ValueError, match="must not contain"):
        sign(b"k" * 32, msg_id="a.b", timestamp=1, body=b"{}")


def test_reference_verifier_accepts_our_signatures() -> None:
    """The standardwebhooks package verifies what we sign, with a secret we derived and
    formatted; a tampered body is refused."""
    secret = derive_secret(b"server-webhook-key" * 2, agent_id=7, version=1)
    body = b'{"type":"decision.recorded"}'
    now = int(time.time())
    headers = {
        "webhook-id": "hitl_evt_12_agent_7",
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header(
            [secret], msg_id="hitl_evt_12_agent_7", timestamp=now, body=body
        ),
    }
    assert Webhook(format_secret(secret)).verify(body, headers) == {"type": "decision.recorded"}
    with pytest.raises(WebhookVerificationError):
        Webhook(format_secret(secret)).verify(body.replace(b"decision", b"decisioN"), headers)


def test_signature_header_lists_one_signature_per_secret() -> None:
    """During a rotation the header carries both signatures; either secret verifies it."""
    old = derive_secret(b"k" * 32, agent_id=1, version=1)
    new = derive_secret(b"k" * 32, agent_id=1, version=2)
    now = int(time.time())
    header = signature_header([new, old], msg_id="m1", timestamp=now, body=b"{}")
    assert len(header.split(" ")) == 2
    headers = {"webhook-id": "m1", "webhook-timestamp": str(now), "webhook-signature": header}
    for secret in (old, new):
        Webhook(format_secret(secret)).verify(b"{}", headers)


def test_derive_secret_is_per_agent_per_version_and_needs_the_key() -> None:
    """Each agent and each rotation gets an unrelated 32-byte secret; another server key
    gives other secrets, so the database (which holds only versions) cannot sign."""
    key = b"a" * 32
    secrets = {derive_secret(key, agent_id=a, version=v) for a in (1, 2, 3) for v in (1, 2, 3)}
    assert len(secrets) == 9
    assert all(len(s) == 32 for s in secrets)
    assert derive_secret(key, agent_id=1, version=1) == derive_secret(key, agent_id=1, version=1)
    assert derive_secret(b"b" * 32, agent_id=1, version=1) not in secrets
    with pytest.raises(ValueError):
        derive_secret(key, agent_id=1, version=0)


def test_format_and_parse_secret_round_trip() -> None:
    """A secret shows as whsec_ + base64 and reads back; garbage is refused clearly."""
    secret = derive_secret(b"k" * 32, agent_id=1, version=1)
    text = format_secret(secret)
    assert text.startswith("whsec_")
    assert base64.b64decode(text.removeprefix("whsec_")) == secret
    assert parse_secret(text) == secret
    with pytest.raises(ValueError, match="base64"):
        parse_secret("whsec_not base64!")


def test_key_id_names_the_key_without_revealing_it() -> None:
    """The stored fingerprint tells keys apart and is not the key."""
    assert key_id(b"a" * 32) != key_id(b"b" * 32)
    assert len(key_id(b"a" * 32)) == 16
