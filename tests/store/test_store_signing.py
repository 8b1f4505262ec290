"""store.signing: DSSE envelopes signed with Ed25519, as a verifier in another language
would check them."""

from __future__ import annotations

import base64

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from store_log_builder import seeded_key

from store.contracts import Envelope, EnvelopeSignature
from store.signing import (
    DECISION_PAYLOAD_TYPE,
    SignatureError,
    key_id,
    load_public_key,
    pae,
    public_key_b64,
    sign_envelope,
    verify_envelope,
)

ALICE = seeded_key("alice")
BOB = seeded_key("bob")
TRUSTED = {key_id(k.public_key()): k.public_key() for k in (ALICE, BOB)}
BOUNDED = settings(max_examples=150, deadline=None)


def _flip(b64: str, bit: int) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[bit // 8 % len(raw)] ^= 1 << (bit % 8)
    return base64.b64encode(bytes(raw)).decode()


@BOUNDED
@given(payload=st.binary(max_size=256), payload_type=st.text(min_size=1, max_size=40))
def test_verify_envelope_returns_exactly_the_signed_bytes(
    payload: bytes, payload_type: str
) -> None:
    """Whatever bytes and type are signed come back verbatim from verification."""
    envelope = sign_envelope(payload, payload_type, ALICE)
    assert verify_envelope(envelope, TRUSTED, payload_type=payload_type) == payload
    assert verify_envelope(Envelope.model_validate_json(envelope.model_dump_json()), TRUSTED) == (
        payload
    )


@BOUNDED
@given(payload=st.binary(min_size=1, max_size=64), bit=st.integers(0, 10_000), sig=st.booleans())
def test_verify_envelope_rejects_any_flipped_bit(payload: bytes, bit: int, sig: bool) -> None:
    """One changed bit in the payload or in the signature and the envelope no longer verifies."""
    envelope = sign_envelope(payload, DECISION_PAYLOAD_TYPE, ALICE)
    if sig:
        s = envelope.signatures[0]
        envelope.signatures = [s.model_copy(update={"sig": _flip(s.sig, bit)})]
    else:
        envelope.payload = _flip(envelope.payload, bit)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_envelope(envelope, TRUSTED)


@BOUNDED
@given(
    a=st.tuples(st.text(max_size=8), st.binary(max_size=8)),
    b=st.tuples(st.text(max_size=8), st.binary(max_size=8)),
)
def test_pae_never_maps_two_messages_to_the_same_bytes(
    a: tuple[str, bytes], b: tuple[str, bytes]
) -> None:
    """Different (payloadType, payload) pairs always give different signed bytes, so a
    signature over one can never be presented as a signature over the other."""
    assume(a != b)
    assert pae(*a) != pae(*b)


def test_verify_envelope_rejects_a_changed_payload_type() -> None:
    """A decision signature cannot be passed off as another kind of document."""
    envelope = sign_envelope(b"{}", DECISION_PAYLOAD_TYPE, ALICE)
    with pytest.raises(SignatureError, match="expected"):
        verify_envelope(envelope, TRUSTED, payload_type="application/vnd.other+json")
    envelope.payloadType = "application/vnd.other+json"
    with pytest.raises(SignatureError, match="does not verify"):
        verify_envelope(envelope, TRUSTED)


def test_verify_envelope_names_an_unknown_key() -> None:
    """A signature by a key nobody enrolled says which key id it was."""
    stranger = seeded_key("stranger")
    envelope = sign_envelope(b"{}", DECISION_PAYLOAD_TYPE, stranger)
    with pytest.raises(SignatureError, match=key_id(stranger.public_key())):
        verify_envelope(envelope, TRUSTED)


def test_verify_envelope_does_not_trust_the_keyid_hint() -> None:
    """Relabelling Bob's signature with Alice's key id does not make it Alice's."""
    envelope = sign_envelope(b"{}", DECISION_PAYLOAD_TYPE, BOB)
    envelope.signatures[0].keyid = key_id(ALICE.public_key())
    with pytest.raises(SignatureError, match="does not verify"):
        verify_envelope(envelope, TRUSTED)


def test_verify_envelope_accepts_one_good_signature_among_several() -> None:
    """DSSE multi-signature: an envelope verifies if any signature is by a trusted key."""
    stranger = seeded_key("stranger")
    good = sign_envelope(b"payload", DECISION_PAYLOAD_TYPE, BOB).signatures[0]
    other = sign_envelope(b"payload", DECISION_PAYLOAD_TYPE, stranger).signatures[0]
    envelope = sign_envelope(b"payload", DECISION_PAYLOAD_TYPE, stranger)
    envelope.signatures = [other, EnvelopeSignature(keyid=good.keyid, sig=_flip(good.sig, 3)), good]
    assert verify_envelope(envelope, TRUSTED) == b"payload"


@pytest.mark.parametrize("padded", [True, False])
def test_verify_envelope_accepts_url_safe_base64(padded: bool) -> None:
    """DSSE: "Either standard or URL-safe base64 encodings are allowed. Signers may use either,
    and verifiers MUST accept either." An envelope from a signer that uses URL-safe base64
    (with or without padding) verifies."""
    payload = b"\xfb\xff\xfe subjects?>>"  # encodes with + and / in standard base64
    envelope = sign_envelope(payload, DECISION_PAYLOAD_TYPE, ALICE)
    assert "+" in envelope.payload or "/" in envelope.payload

    def url(text: str) -> str:
        out = base64.urlsafe_b64encode(base64.b64decode(text)).decode()
        return out if padded else out.rstrip("=")

    envelope.payload = url(envelope.payload)
    envelope.signatures = [s.model_copy(update={"sig": url(s.sig)}) for s in envelope.signatures]
    assert verify_envelope(envelope, TRUSTED) == payload


@pytest.mark.parametrize("payload", ["not base64!", "YWJj+-_/", "a"])
def test_verify_envelope_rejects_a_payload_that_is_not_base64(payload: str) -> None:
    """A payload that is not base64 (or mixes both alphabets) is refused with a reason."""
    envelope = sign_envelope(b"abc", DECISION_PAYLOAD_TYPE, ALICE)
    envelope.payload = payload
    with pytest.raises(SignatureError, match="base64"):
        verify_envelope(envelope, TRUSTED)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("***", "not valid base64"),
        (base64.b64encode(b"x" * 31).decode(), "has 31"),
        (base64.b64encode(b"x" * 33).decode(), "has 33"),
    ],
)
def test_load_public_key_says_what_is_wrong(text: str, reason: str) -> None:
    """Enrolling a malformed public key fails with a message a supervisor can act on."""
    with pytest.raises(SignatureError, match=reason):
        load_public_key(text)


def test_load_public_key_round_trips() -> None:
    """The base64 form the store writes loads back to the same key."""
    public = ALICE.public_key()
    assert key_id(load_public_key(public_key_b64(public))) == key_id(public)
