"""Ed25519 signatures over DSSE envelopes.

DSSE (https://github.com/secure-systems-lab/dsse) signs
``PAE(payloadType, payload)`` rather than the JSON of the envelope, so the signed
bytes never depend on how a JSON column or a proxy re-serializes the envelope.
The payload bytes are kept verbatim (base64 in the envelope) wherever they are stored.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from store.contracts import Envelope, EnvelopeSignature

__all__ = [
    "CHECKPOINT_PAYLOAD_TYPE",
    "DECISION_PAYLOAD_TYPE",
    "SignatureError",
    "envelope_payload",
    "fingerprint",
    "key_id",
    "load_public_key",
    "pae",
    "public_key_b64",
    "sign_envelope",
    "verify_envelope",
]

DECISION_PAYLOAD_TYPE = "application/vnd.hitl.decision.v1+json"
CHECKPOINT_PAYLOAD_TYPE = "application/vnd.hitl.checkpoint.v1+json"


class SignatureError(ValueError):
    """An envelope could not be verified; the message says why."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable id: the first 16 bytes of SHA-256 over the raw public key, hex."""
    return hashlib.sha256(_raw(public_key)).hexdigest()[:32]


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """The OpenSSH fingerprint (what ``ssh-keygen -l`` prints): ``SHA256:<base64>``."""
    blob_b64 = public_key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).split()[1]
    digest = hashlib.sha256(base64.b64decode(blob_b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(_raw(public_key)).decode()


def load_public_key(b64: str) -> Ed25519PublicKey:
    """Parse a base64 raw 32-byte Ed25519 public key, with a message that says what is wrong."""
    try:
        raw = base64.b64decode(b64, validate=True)
    except ValueError as exc:
        raise SignatureError("public key is not valid base64") from exc
    if len(raw) != 32:
        raise SignatureError(f"an Ed25519 public key has 32 bytes, this one has {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def sign_envelope(payload: bytes, payload_type: str, private_key: Ed25519PrivateKey) -> Envelope:
    signature = private_key.sign(pae(payload_type, payload))
    return Envelope(
        payloadType=payload_type,
        payload=base64.b64encode(payload).decode(),
        signatures=[
            EnvelopeSignature(
                keyid=key_id(private_key.public_key()),
                sig=base64.b64encode(signature).decode(),
            )
        ],
    )


def _dsse_b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not: DSSE verifiers MUST accept either."""
    urlsafe = "-" in text or "_" in text
    if urlsafe and ("+" in text or "/" in text):
        raise ValueError("mixes the standard and URL-safe base64 alphabets")
    if "=" not in text:
        text += "=" * (-len(text) % 4)
    return base64.b64decode(text, altchars=b"-_" if urlsafe else None, validate=True)


def envelope_payload(envelope: Envelope) -> bytes:
    try:
        return _dsse_b64decode(envelope.payload)
    except ValueError as exc:
        raise SignatureError("envelope payload is not valid base64") from exc


def verify_envelope(
    envelope: Envelope,
    trusted: Mapping[str, Ed25519PublicKey],
    *,
    payload_type: str | None = None,
) -> bytes:
    """Return the payload bytes if one signature verifies under a trusted key.

    Raises :class:`SignatureError` otherwise. ``trusted`` maps key id to public key.
    """
    if payload_type is not None and envelope.payloadType != payload_type:
        raise SignatureError(f"payloadType is {envelope.payloadType!r}, expected {payload_type!r}")
    payload = envelope_payload(envelope)
    message = pae(envelope.payloadType, payload)
    if not envelope.signatures:
        raise SignatureError("envelope carries no signature")
    unknown: list[str] = []
    for sig in envelope.signatures:
        key = trusted.get(sig.keyid)
        if key is None:
            unknown.append(sig.keyid)
            continue
        try:
            key.verify(_dsse_b64decode(sig.sig), message)
        except (InvalidSignature, ValueError):
            continue
        return payload
    if unknown and len(unknown) == len(envelope.signatures):
        raise SignatureError(f"no enrolled key with id {', '.join(unknown)}")
    raise SignatureError("signature does not verify over the DSSE PAE of the payload")
